"""Many seeds in one process: independent runs, their device work vmapped over the seeds.

Each seed keeps everything a single run has (trainer._Run): its env, replay buffer, NumPy generator, JAX keys, run
directory, evaluations, checkpoints and divergence guard. Only the two device computations of an env step are batched
over the seeds: the policy's actions and the updates (the agent's own pure update function, vmapped and jitted).
Seed i therefore draws the same random numbers as `memb train --seed i` and ends with the same results up to the
rounding of batched matrix products.

The seeds form groups, each a lockstep loop over its seeds with their agent states stacked on the device. On a CPU
there is one group per core and each group's loop runs in its own thread (JAX releases the GIL while it computes):
one vmapped call over all seeds would not use the cores better than a single run does, because each seed has its own
weights and XLA runs the seeds' products one after another. The groups do not wait for one another, so a core whose
group is smaller does not idle; it takes its share of the cores' pool when it is done. On a GPU all seeds are one
group, one call.

Each group compiles ahead what it will need (training/ahead.py): its vmapped update programs and its first stochastic
action, on one background thread (two where a single group has the cores). Groups of the same size run the same
programs, compiled once for them, and the evaluation's programs, which all seeds share, once for all groups.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from memb.training import checkpoint
from memb.training.ahead import Job, Shared, compiled_ahead
from memb.training.buffer import check_buffer_fits
from memb.training.config import RunConfig
from memb.training.envs import EnvError, make_env
from memb.training.trainer import (
    Interrupted,
    RunDirError,
    TrainResult,
    _lower_and_compile,
    _Run,
    build_agent,
    check_out,
    prepare,
    update_jobs,
)


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
    groups: int | None = None,
) -> list[TrainResult]:
    """Train `config` once per seed (its `train.seed` replaced), seed i into `outs[i]`. The seeds are split into
    `groups` groups of consecutive seeds, each trained in lockstep with its updates vmapped, the groups at the same
    time in threads (default: one group per usable core on a CPU, one group on a GPU)."""
    if len(seeds) != len(outs) or not seeds:
        raise ValueError("pass one output directory per seed")
    if len(set(seeds)) != len(seeds):
        raise RunDirError(f"seeds {list(seeds)} repeat a seed; pass distinct seeds such as 0-4")
    if groups is not None and (not isinstance(groups, int) or groups < 1):
        raise ValueError(f"groups must be a positive integer, got {groups!r}")
    if isinstance(env, gym.Env):
        raise EnvError("pass env as an id or a factory (not an instance): every seed and evaluation needs its own")
    for out in map(Path, outs):  # every seed's directory checked before any is made, so a bad one leaves no others
        check_out(config, out, overwrite=overwrite, resume=resume)
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
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        if groups is None:  # a GPU runs one batched call best; a CPU, one group per core
            groups = cores if jax.default_backend() == "cpu" else 1
        parts = [list(p) for p in np.array_split(np.arange(len(runs)), min(groups, len(runs)))]
        # each group compiles ahead on one thread (both of a single run's two where it is alone); the evaluation's
        # programs, which every seed runs alike, are compiled once for all groups, and each waits for them
        workers = max(1, min(2, cores) // len(parts))
        programs = _Programs(agent, runs[0].evaluation_jobs() if runs[0].tc.compile_ahead else [])
        loops = [_Lockstep(agent, [runs[i] for i in p], programs, leader=runs[0], workers=workers) for p in parts]
        previous = runs[0]._install_signal_handlers()  # the leader's stop_signal stops every group
        try:
            if len(loops) == 1:
                return loops[0].loop(progress=progress, tensorboard=tensorboard)
            return _in_threads(loops, runs[0], progress=progress, tensorboard=tensorboard)
        finally:
            runs[0]._restore_signal_handlers(previous)
    finally:
        for run in runs:
            run.close()


def _restore_common_step(runs: list[_Run]) -> None:
    """Restore every seed from the newest checkpoint step that all of them have intact (a kill can land between
    two seeds' checkpoints of the same step); start all over when there is none."""
    steps: list[dict[int, Path]] = []
    for run in runs:
        found = {}
        checkpoint.recover(run.out)
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


def _in_threads(loops: list[_Lockstep], leader: _Run, *, progress: bool, tensorboard: bool) -> list[TrainResult]:
    """Each group's loop in its own thread; their results in seed order. When a group fails, the others checkpoint
    and stop (as after a SIGTERM) and the failure is raised; a stop signal reaches them all through the leader."""
    abort = threading.Event()
    for group_loop in loops:
        group_loop.abort = abort
    with cf.ThreadPoolExecutor(len(loops)) as pool:
        futures = [
            pool.submit(group_loop.loop, progress=progress and g == 0, tensorboard=tensorboard)
            for g, group_loop in enumerate(loops)
        ]
        try:
            done, _ = cf.wait(futures, return_when=cf.FIRST_EXCEPTION)
            if any(f.exception() is not None for f in done) and leader.stop_signal is None:
                leader.stop_signal = signal.SIGTERM  # the other groups checkpoint and stop
            cf.wait(futures)
        except BaseException:  # a second Ctrl-C: stop at once, as a single run does
            abort.set()
            cf.wait(futures)
            raise
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:  # a group's own failure before the stops it caused in the others
        raise next((e for e in errors if not isinstance(e, Interrupted)), errors[0])
    return [result for f in futures for result in f.result()]


class _Lockstep:
    """One group of seeds in lockstep: their agent states stacked, each env step's actions and updates one vmapped
    call each. `leader`: the run whose stop_signal (set by the signal handlers) stops this group; `abort`: set when
    the process must stop at once."""

    def __init__(self, agent, runs: list[_Run], programs: _Programs, leader: _Run | None = None, workers: int = 1):
        self.agent, self.runs = agent, runs
        self.programs = programs  # the vmapped programs and the compiles ahead that the groups share
        self.leader = leader or runs[0]
        self.workers = workers  # threads to compile ahead on
        self.abort: threading.Event | None = None
        self.act = self.programs.act

    def vmapped_update(self, env_step: int):
        return self.programs.update(self.agent.update_function(env_step))

    def loop(self, *, progress: bool, tensorboard: bool) -> list[TrainResult]:
        runs, agent = self.runs, self.agent
        tc = runs[0].tc
        for i, run in enumerate(runs):
            run.open_outputs(progress and i == 0, tensorboard)  # one progress bar: the group's first seed's
        stacked = _stack([run.state for run in runs])
        keys = _stack([run.act_key for run in runs])  # acting carries, stacked like the states; written back on saves
        try:
            jobs = partial(self.ahead_jobs, stacked, keys) if tc.compile_ahead else None
            with compiled_ahead(jobs, self.workers) as ahead:
                del jobs  # the initial states that the jobs were made with: let them go once compiled
                while runs[0].loop_state.step < tc.steps and not all(run.reached() for run in runs):
                    if self.abort is not None and self.abort.is_set():
                        raise KeyboardInterrupt
                    step = runs[0].loop_state.step
                    if ahead is not None:  # what this step runs, if it was compiled ahead
                        ahead.wait(step)
                    # act: each seed's own uniform draws first; then all policies in one vmapped call
                    randoms = [run.random_action() for run in runs]
                    if randoms[0] is None:
                        obs = jnp.asarray(np.stack([run.loop_state.obs for run in runs]), jnp.float32)
                        actions, keys = self.act(stacked.params["policy"], obs, keys)
                        actions = np.asarray(actions)
                        randoms = [(actions[i], 0.0) for i in range(len(runs))]
                    for i, (run, (action, log_prob)) in enumerate(zip(runs, randoms, strict=True)):
                        episodes = len(run.loop_state.episode_returns)
                        run.env_step(action, log_prob)
                        if len(run.loop_state.episode_returns) > episodes and hasattr(agent, "reset_act_carry"):
                            # the episode ended: restart this seed's exploration noise, as the single-seed trainer does
                            fresh = agent.reset_act_carry(_slice(keys, i))
                            keys = jax.tree.map(lambda k, f, i=i: k.at[i].set(f), keys, fresh)

                    # learn: all seeds' batches, each from its own buffer and generator, in one vmapped update
                    batches = [run.sample(step) for run in runs]
                    if batches[0] is not None:
                        new, info = self.vmapped_update(step)(stacked, _stack(batches))
                        info = jax.device_get(info)
                        finite = np.asarray(info.pop("finite"))
                        if finite.all():
                            stacked = new
                            for i, run in enumerate(runs):
                                run.loop_state.pending.append({k: v[i] for k, v in info.items()})
                                run.loop_state.rounds += agent.rounds_per_step(step)
                        else:  # the seeds that diverged go through their own guard; the others keep their update
                            stacked = self._guard(stacked, new, {**info, "finite": finite}, step)

                    # evaluate and checkpoint: each seed reads its slice of the stacked state
                    if self.leader.stop_signal is not None:
                        for run in runs:
                            run.stop_signal = self.leader.stop_signal
                    if runs[0].state_needed():
                        for i, run in enumerate(runs):
                            run.state, run.act_key = _slice(stacked, i), _slice(keys, i)
                    stopped = None
                    for run in runs:  # every seed writes its checkpoint before a stop is raised
                        try:
                            run.end_step()
                        except Interrupted as e:
                            stopped = e
                    if stopped is not None:
                        raise stopped
        finally:
            for run in runs:
                run.close_outputs()
        for i, run in enumerate(runs):
            run.state, run.act_key = _slice(stacked, i), _slice(keys, i)
        return [run.finish() for run in runs]

    def ahead_jobs(self, stacked, keys) -> list[Job]:
        """What the single-seed trainer compiles ahead (trainer._Run.ahead_jobs), for this group: its vmapped update
        programs and stochastic action, on the stacked state; and the evaluation's programs, which every seed runs
        alike (the same jobs in every group's list)."""
        agent, first = self.agent, self.runs[0]
        step, steps, buffer = first.loop_state.step, first.tc.steps, first.buffer  # the seeds step in lockstep
        seeds = len(self.runs)

        def compile_update(first_step: int, program, num_batches: int):
            spec = buffer.sample_spec(num_batches, agent.config.batch_size)
            stacked_spec = jax.tree.map(lambda s: jax.ShapeDtypeStruct((seeds, *s.shape), s.dtype), spec)
            vmapped = self.vmapped_update(first_step)
            compile_it = partial(_lower_and_compile, vmapped, stacked, stacked_spec)
            return self.programs.compile_once((vmapped, seeds, num_batches), compile_it)

        jobs = update_jobs(agent, len(buffer), buffer.capacity, step, steps, compile_update)
        first_act = agent.config.random_steps
        if step <= first_act < steps:
            obs = jnp.zeros((seeds, agent.obs_dim), jnp.float32)
            act = self.programs.compile_once((self.act, seeds), partial(self.act, stacked.params["policy"], obs, keys))
            jobs.append(Job(first_act, "the policies' action", act))
        return jobs + self.programs.evaluations

    def _guard(self, stacked, new, info, step: int):
        states = []
        for i, run in enumerate(self.runs):
            seed_info = {k: v[i] for k, v in info.items()}
            run.state = _slice(stacked, i)
            run.apply_update(_slice(new, i), seed_info, step)  # keeps the update, or restores with a lower lr
            states.append(run.state)
        return _stack(states)


class _Programs:
    """What the groups share: their vmapped programs, one jitted function each whatever the group, so that groups of
    the same size run (and compile) the same program; their compiles ahead, once per program and group size (the
    first group to ask compiles, and the others wait for it: `ahead.Shared`); and the evaluation's compile-ahead
    jobs, which every seed runs alike. Used from the groups' threads."""

    def __init__(self, agent, evaluations: list[Job]):
        self.act = jax.jit(jax.vmap(partial(agent.act_fn, deterministic=False)))
        self.evaluations = [dataclasses.replace(job, compile=Shared(job.compile)) for job in evaluations]
        self._updates: dict = {}  # update function -> its vmapped, jitted form
        self._compiles: dict = {}  # (program, group size, ...) -> its Shared compile
        self._lock = threading.Lock()

    def update(self, fn):
        """The vmapped, jitted form of update function `fn` (called every env step: no lock once it exists)."""
        program = self._updates.get(fn)
        if program is None:
            with self._lock:
                program = self._updates.setdefault(fn, jax.jit(jax.vmap(fn)))
        return program

    def compile_once(self, key: tuple, compile_it) -> Shared:
        with self._lock:
            if key not in self._compiles:
                self._compiles[key] = Shared(compile_it)
            return self._compiles[key]


def _stack(trees: list):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def _slice(tree, i: int):
    return jax.tree.map(lambda x: x[i], tree)
