"""The evaluation protocol shared by every agent: deterministic episodes, run in lockstep."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import jax
import numpy as np

from memb.agents.common import Batch
from memb.training.envs import EVAL_STEP_CAP, ActionScaler, has_time_limit

MAX_TRANSITIONS = 10_000  # held-out transitions an evaluation keeps for the model error


@dataclass
class EvalResult:
    returns: np.ndarray
    lengths: np.ndarray
    transitions: Batch | None  # real transitions never added to the replay buffer: held out for model error

    def row(self) -> dict[str, float]:
        return {
            "return_mean": float(self.returns.mean()),
            "return_std": float(self.returns.std()),
            "return_min": float(self.returns.min()),
            "return_max": float(self.returns.max()),
            "length_mean": float(self.lengths.mean()),
        }


def evaluate(
    agent,
    state,
    envs: list[gym.Env],
    key: jax.Array,
    *,
    seeds: list[int] | None = None,
    max_transitions: int = MAX_TRANSITIONS,
    on_frame=None,
) -> EvalResult:
    """One deterministic episode in each env, all stepped together so that the policy runs batched.

    `seeds` seeds each env's reset (first evaluation); None continues each env's own RNG.
    `on_frame(env_index, frame)` receives rendered frames when given.
    """
    scaler = ActionScaler(envs[0].action_space)
    n = len(envs)
    # float64 holds any env's observations exactly (an int array from reset would truncate the later float ones)
    obs = np.stack([env.reset(seed=None if seeds is None else seeds[i])[0] for i, env in enumerate(envs)])
    obs = obs.astype(np.float64)
    caps = [np.inf if has_time_limit(env) else EVAL_STEP_CAP for env in envs]
    returns, lengths = np.zeros(n), np.zeros(n, np.int64)
    active = np.ones(n, bool)
    stored: list[tuple] = []
    while active.any():
        idx = np.flatnonzero(active)
        action, key = agent.act(state, obs[idx], key, deterministic=True)
        for j, i in enumerate(idx):
            next_obs, reward, terminated, truncated, _ = envs[i].step(scaler.to_env(action[j]))
            if on_frame is not None:
                on_frame(i, envs[i].render())
            if len(stored) < max_transitions:
                stored.append((obs[i].copy(), action[j], reward, next_obs, terminated))
            returns[i] += reward
            lengths[i] += 1
            obs[i] = next_obs
            if terminated or truncated or lengths[i] >= caps[i]:
                active[i] = False
    transitions = None
    if stored:
        o, a, r, o2, d = map(np.asarray, zip(*stored, strict=True))
        transitions = Batch(
            obs=o.astype(np.float32),
            action=a.astype(np.float32),
            reward=r.astype(np.float32),
            next_obs=o2.astype(np.float32),
            terminated=d.astype(np.float32),
        )
    return EvalResult(returns, lengths, transitions)
