"""One Python API for every agent, in the style of Stable-Baselines3; the CLI and this call the same functions.

    from memb import Agent

    agent = Agent("HalfCheetah-v5", algo="memb", out="runs/cheetah", updates_per_step=3)
    agent.learn(50_000)                      # writes the run directory, exactly as `memb train`
    action = agent.act(obs)                  # env-space action(s), deterministic by default; obs may be a batch
    agent.learn(20_000)                      # continues from the last checkpoint, to 70,000 steps in all
    same = Agent.load("runs/cheetah")        # the saved run directory, ready to act or to learn further

`env` is an env id (registered, or "module:Id"), or a factory returning a Gymnasium env with a Box action space.
Settings apply as on the command line: the defaults, the paper's preset for the env (MEMB on its seven tasks, unless
preset="none"), then the keyword arguments.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import jax
import numpy as np

from memb.experiments.runs import resolve
from memb.training import RunConfig, make_env, read_run_config, train
from memb.training.envs import ActionScaler, EnvSource
from memb.training.trainer import RunDirError, build_agent, load_state


class Agent:
    def __init__(
        self,
        env: EnvSource = "Pendulum-v1",
        *,
        algo: str = "memb",
        out: str | Path | None = None,
        preset: str = "paper",
        seed: int = 0,
        **overrides: Any,
    ):
        name = getattr(env, "__name__", "")  # a factory's or class's own name; not a lambda's "<lambda>"
        env_id = env if isinstance(env, str) else name if name.isidentifier() else "custom"
        self.config, _ = resolve({**overrides, "env": env_id, "seed": seed}, algo=algo, preset=preset)
        self.env_source = env
        self.out = Path(out) if out is not None else Path("runs") / f"{env_id.replace(':', '_')}-{algo}-s{seed}"
        self._probe = make_env(env)
        self.agent = build_agent(self.config, self._probe)
        self.scaler = ActionScaler(self._probe.action_space)
        self.state = None  # trained state, once learn() or load() has run
        self.steps_done = 0
        self._key = jax.random.PRNGKey(seed)

    # ------------------------------------------------------------------------------------ training
    def learn(self, total_steps: int, *, progress: bool = True, tensorboard: bool = True) -> Agent:
        """Train for `total_steps` more env steps into the run directory (continuing it when it exists)."""
        steps = self.steps_done + int(total_steps)
        config = dataclasses.replace(self.config, train=dataclasses.replace(self.config.train, steps=steps))
        env = None if isinstance(self.env_source, str) else self.env_source
        result = train(
            config,
            self.out,
            env=env,
            resume=self.steps_done > 0,
            progress=progress,
            tensorboard=tensorboard,
        )
        self.config, self.steps_done = config, steps
        self.state = load_state(self.out, self.agent)
        self.last_result = result
        return self

    # -------------------------------------------------------------------------------------- acting
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """The action(s) for one observation [obs_dim] or a batch [n, obs_dim], in the env's action space."""
        if self.state is None:
            raise RunDirError("the agent has not learned yet: call learn() or Agent.load(run_dir) first")
        obs = np.asarray(obs, np.float32)
        if obs.shape[-1:] != (self.agent.obs_dim,) or obs.ndim not in (1, 2):
            raise ValueError(
                f"obs must have shape [{self.agent.obs_dim}] or [n, {self.agent.obs_dim}], got {obs.shape}"
            )
        action, carry = self.agent.act(self.state, obs, self._key, deterministic=deterministic)
        # only the key carries over: these calls know no episodes, so an agent's exploration-noise state (DDPG's
        # Ornstein-Uhlenbeck process) starts afresh at every call (its first step: σε)
        self._key = carry["key"] if isinstance(carry, dict) else carry
        return self.scaler.to_env(action)

    # ---------------------------------------------------------------------------------- save, load
    def save(self, path: str | Path) -> Path:
        """Copy the run directory (config, curves, parameters, checkpoints) to `path`; returns it."""
        if self.state is None:
            raise RunDirError("nothing to save yet: call learn() first")
        path = Path(path)
        if path.resolve() != self.out.resolve():
            if path.exists():
                raise RunDirError(f"{path} exists; choose another path")
            shutil.copytree(self.out, path)
        return path

    @classmethod
    def load(cls, run_dir: str | Path, env: EnvSource | None = None) -> Agent:
        """An agent from a run directory written by learn() or `memb train` (pass `env` for a factory-made env)."""
        run_dir = Path(run_dir)
        config: RunConfig = read_run_config(run_dir)
        self = cls.__new__(cls)
        self.config, self.out = config, run_dir
        self.env_source = env if env is not None else config.train.env
        self._probe = make_env(self.env_source)
        self.agent = build_agent(config, self._probe)
        self.scaler = ActionScaler(self._probe.action_space)
        self.state = load_state(run_dir, self.agent)
        self.steps_done = config.train.steps
        self._key = jax.random.PRNGKey(config.train.seed)
        return self
