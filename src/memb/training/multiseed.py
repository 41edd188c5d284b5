"""Many seeds in one process: independent runs in lockstep, their device work one `jax.vmap` over the seeds.

Each seed keeps everything a single run has (trainer._Run): its env, replay buffer, NumPy generator, JAX keys, run
directory, evaluations, checkpoints and divergence guard. Only the two device computations of an env step are batched
over the seeds: the policy's actions and the updates (the agent's own pure update function, vmapped and jitted).
Seed i therefore draws the same random numbers as `memb train --seed i` and ends with the same results up to the
rounding of batched matrix products. The agent states live stacked on the device; a seed's slice is taken out only
when that seed evaluates or writes a checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from memb.training import checkpoint
from memb.training.buffer import check_buffer_fits
from memb.training.config import RunConfig
from memb.training.envs import make_env
from memb.training.trainer import Interrupted, RunDirError, TrainResult, _Run, build_agent, prepare


def vmappable(config: RunConfig) -> bool:
    """Whether `train_seeds` can train this configuration (decided from the config alone)."""
    from memb.agents import AGENTS

    return hasattr(AGENTS[config.algo], "update_function") and not getattr(config.agent, "importance_weight_cap", 0)


def supports(agent) -> bool:
    """Agents whose updates are one pure function per step and whose policy acts from `params["policy"]`."""
    return hasattr(agent, "update_function") and not agent.uses_behavior_log_prob


def train_seeds(
    config: RunConfig,
    seeds: Sequence[int],
    outs: Sequence[str | Path],
    *,
    env=None,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = True,
    tensorboard: bool = True,
) -> list[TrainResult]:
    """Train `config` once per seed (its `train.seed` replaced), seed i into `outs[i]`, all in lockstep."""
    if len(seeds) != len(outs) or not seeds:
        raise ValueError("pass one output directory per seed")
    if len(set(seeds)) != len(seeds):
        raise RunDirError(f"seeds {list(seeds)} repeat a seed; pass distinct seeds such as 0-4")
    probe = make_env(env if env is not None else config.train.env)
    agent = build_agent(config, probe)
    probe.close()
    if not supports(agent):
        raise RunDirError(
            f"--seeds trains {config.algo} one seed at a time only (its update is not one vmappable function, or it "
            "records behaviour log-probabilities); run the seeds as separate runs, e.g. with memb experiment"
        )
    check_buffer_fits(config.train.buffer_capacity, agent.obs_dim, agent.act_dim, copies=len(seeds))
    runs: list[_Run] = []
    try:
        for seed, out in zip(seeds, outs, strict=True):
            seed_config = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed))
            runs.append(prepare(seed_config, out, env=env, overwrite=overwrite, resume=resume, agent=agent))
        if resume:
            _restore_common_step(runs)
        return _Lockstep(agent, runs).loop(progress=progress, tensorboard=tensorboard)
    finally:
        for run in runs:
            run.close_envs()


def _restore_common_step(runs: list[_Run]) -> None:
    """Restore every seed from the newest checkpoint step that all of them have intact (a kill can land between
    two seeds' checkpoints of the same step); start all over when there is none."""
    steps: list[dict[int, Path]] = []
    for run in runs:
        found = {}
        for path in checkpoint.complete_checkpoints(run.out):
            if checkpoint.verify(path) is None:
                found[json.loads((path / "loop.json").read_text())["step"]] = path
        steps.append(found)
    common = set.intersection(*(set(s) for s in steps)) if steps else set()
    if not common:
        if any(steps):
            print("memb: the seeds have no checkpoint step in common; starting them all over", file=sys.stderr)
        return
    step = max(common)
    for run, found in zip(runs, steps, strict=True):
        run.restore(found[step])


class _Lockstep:
    def __init__(self, agent, runs: list[_Run]):
        self.agent, self.runs = agent, runs
        self.act = jax.jit(jax.vmap(partial(agent.act_fn, deterministic=False)))
        self.updates: dict = {}  # update function -> its vmapped, jitted form

    def vmapped_update(self, env_step: int):
        fn = self.agent.update_function(env_step)
        if fn not in self.updates:
            self.updates[fn] = jax.jit(jax.vmap(fn))
        return self.updates[fn]

    def loop(self, *, progress: bool, tensorboard: bool) -> list[TrainResult]:
        runs, agent = self.runs, self.agent
        tc = runs[0].tc
        for i, run in enumerate(runs):
            run.open_outputs(progress and i == 0, tensorboard)  # one progress bar: seed 0's
        previous = runs[0]._install_signal_handlers()
        stacked = _stack([run.state for run in runs])
        keys = jnp.stack([run.act_key for run in runs])  # stacked like the states; written back when a seed saves
        try:
            while runs[0].loop_state.step < tc.steps and not all(run.reached() for run in runs):
                step = runs[0].loop_state.step
                # act: each seed's own uniform draws first; then all policies in one vmapped call
                randoms = [run.random_action() for run in runs]
                if randoms[0] is None:
                    obs = jnp.asarray(np.stack([run.loop_state.obs for run in runs]), jnp.float32)
                    actions, keys = self.act(stacked.params["policy"], obs, keys)
                    actions = np.asarray(actions)
                    randoms = [(actions[i], 0.0) for i in range(len(runs))]
                for run, (action, log_prob) in zip(runs, randoms, strict=True):
                    run.env_step(action, log_prob)

                # learn: all seeds' batches, each from its own buffer and generator, in one vmapped update
                batches = [run.sample(step) for run in runs]
                if batches[0] is not None:
                    new, info = self.vmapped_update(step)(stacked, _stack(batches))
                    finite = np.asarray(info["finite"])
                    if finite.all():
                        stacked = new
                        host_info = jax.device_get({k: v for k, v in info.items() if k != "finite"})
                        for i, run in enumerate(runs):
                            run.loop_state.pending.append({k: v[i] for k, v in host_info.items()})
                            run.loop_state.rounds += agent.rounds_per_step(step)
                    else:  # the seeds that diverged go through their own guard; the others keep their update
                        stacked = self._guard(stacked, new, info, finite, step)

                # evaluate and checkpoint: each seed reads its slice of the stacked state
                if runs[0].stop_signal is not None:
                    for run in runs[1:]:
                        run.stop_signal = runs[0].stop_signal
                if runs[0].state_needed():
                    for i, run in enumerate(runs):
                        run.state, run.act_key = _slice(stacked, i), keys[i]
                stopped = None
                for run in runs:  # every seed writes its checkpoint before a stop is raised
                    try:
                        run.end_step()
                    except Interrupted as e:
                        stopped = e
                if stopped is not None:
                    raise stopped
        finally:
            runs[0]._restore_signal_handlers(previous)
            for run in runs:
                run.close_outputs()
        for i, run in enumerate(runs):
            run.state, run.act_key = _slice(stacked, i), keys[i]
        return [run.finish() for run in runs]

    def _guard(self, stacked, new, info, finite: np.ndarray, step: int):
        states = []
        for i, run in enumerate(self.runs):
            seed_info = {k: v[i] for k, v in info.items()}
            run.state = _slice(stacked, i)
            run.apply_update(_slice(new, i), seed_info, step)  # keeps the update, or restores with a lower lr
            states.append(run.state)
        return _stack(states)


def _stack(trees: list):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def _slice(tree, i: int):
    return jax.tree.map(lambda x: x[i], tree)
