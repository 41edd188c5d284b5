"""The trainer: one env loop, one evaluation protocol and one run directory for every agent.

Run directory:
    config.json     the resolved configuration (and library versions)
    eval.csv        step, return_mean, return_std, ... after every epoch (deterministic: no timings)
    metrics.csv     losses, model error on held-out real transitions, updates/s, env steps/s, times, per epoch
    events.json     divergence events and interruptions, if any
    tb/             TensorBoard event files of the same numbers
    checkpoints/    the complete training state every `checkpoint_every` steps (see checkpoint.py)
    state.msgpack   the final agent state (parameters, target networks, optimizer states)
    summary.json    the final evaluation and timings, written last

A run killed at any moment resumes from its newest checkpoint (`train(..., resume=True)`, `memb train --resume`);
for envs whose state is captured (MuJoCo tasks, classic control) the resumed run ends bit-identical to an
uninterrupted one: the same eval.csv, metrics (bar the timings) and final parameters.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import signal
import sys
import time
import weakref
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import flax.serialization
import gymnasium as gym
import jax
import numpy as np

from memb.agents import AGENTS
from memb.agents.common import Batch
from memb.training import checkpoint
from memb.training.ahead import Job, compiled_ahead
from memb.training.buffer import ReplayBuffer, check_buffer_fits
from memb.training.config import RunConfig
from memb.training.envs import (
    ActionScaler,
    EnvError,
    EnvSource,
    check_env_label,
    get_env_state,
    make_env,
    set_env_state,
)
from memb.training.evaluation import MAX_TRANSITIONS, evaluate
from memb.training.io import (
    LOCK_NAME,
    DirectoryLock,
    DirectoryLocked,
    write_bytes_atomic,
    write_csv_atomic,
    write_json_atomic,
)
from memb.training.memory import resident_mb, trim_heap


class RunDirError(ValueError):
    """The output directory cannot be used; one line that says what to do."""


class DivergenceError(RuntimeError):
    """Training produced non-finite numbers and the configuration says to stop (or the remedies ran out)."""


class Interrupted(Exception):
    """SIGINT or SIGTERM: a checkpoint was written; `memb train --resume` continues the run."""

    def __init__(self, signum: int, run_dir: Path, step: int):
        self.signum, self.run_dir, self.step = signum, run_dir, step
        super().__init__(f"stopped by {signal.Signals(signum).name} at step {step}; checkpoint written")


@dataclass
class TrainResult:
    run_dir: Path
    eval_rows: list[dict]
    metric_rows: list[dict]
    state: object
    buffer: ReplayBuffer

    @property
    def final_return(self) -> float:
        return self.eval_rows[-1]["return_mean"]


@dataclass
class LoopState:
    """Everything of the training loop that a checkpoint holds besides the agent state and the replay buffer."""

    step: int = 0  # env steps done
    obs: np.ndarray | None = None
    episode_return: float = 0.0
    episode_returns: list[float] = field(default_factory=list)
    eval_rows: list[dict] = field(default_factory=list)
    metric_rows: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)  # per-update metrics of the epoch in progress (host floats)
    rounds: int = 0  # actor-critic rounds in the epoch in progress
    epoch_seconds: float = 0.0  # training time spent in the epoch in progress before the last checkpoint
    train_seconds: float = 0.0
    restores: int = 0


def check_out(config: RunConfig, out: Path, *, overwrite: bool, resume: bool) -> None:
    """That `out` can take this run: a new run needs a free directory, a resumed one its config.json and no fewer
    steps (config.json is rewritten: a shorter run would no longer fit its checkpoints)."""
    if not resume:
        return check_run_dir(out, overwrite)
    if not (out / "config.json").is_file():
        raise RunDirError(f"{out} has no config.json to resume; start it with `memb train --out {out}`")
    saved = read_run_config(out).train.steps
    if config.train.steps < saved:
        raise RunDirError(
            f"{out} was started for {saved} steps; on resume --steps may only grow (got {config.train.steps})"
        )


def check_run_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out} is a file; choose a directory path")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise RunDirError(f"--out {out} exists and is not empty; choose another path, pass --overwrite, or --resume it")


def build_agent(config: RunConfig, env):
    obs_dim = env.observation_space.shape[0]
    act_dim = env.action_space.shape[0]
    agent = AGENTS[config.algo](config.agent, obs_dim, act_dim)
    signature = (type(agent), config.agent, obs_dim, act_dim)
    try:
        hash(signature)
    except TypeError:  # a config with an unhashable field: the agent gets an init program of its own
        return agent
    _BUILT[agent] = signature
    return agent


class _Init:
    """One jitted init, traced with whichever of its agents calls it first (it holds them only weakly)."""

    def __init__(self):
        self.agent = None
        self.program = jax.jit(self._init)

    def _init(self, key):
        return self.agent().init(key)

    def __call__(self, agent, key):
        self.agent = weakref.ref(agent)
        return self.program(key)


# what an agent from build_agent was made of: agents made of the same share one init program
_BUILT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_INITS: dict = {}  # build_agent's signature -> its _Init
_OTHER_INITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # an agent made elsewhere -> its own _Init


def init_state(agent, key: jax.Array):
    """`agent.init(key)` as one compiled program.

    Run eagerly, an agent's init dispatches hundreds of small ops, each compiled on first use: 5.5-7 s of a cold
    start (benchmarks/compile_cost.py), against about 2.5 s compiled. The program is traced once per agent class,
    config and shapes for agents from `build_agent` (a process that makes many, as the tests do, would otherwise trace
    and look up the same program for each: about 0.4 s an agent, where warm eager ops take 0.05 s), and once per
    agent for any other.
    """
    signature = _BUILT.get(agent)
    if signature is not None:
        init = _INITS.get(signature) or _INITS.setdefault(signature, _Init())
    else:
        init = _OTHER_INITS.get(agent) or _OTHER_INITS.setdefault(agent, _Init())
    return init(agent, key)


def read_run_config(run_dir: Path) -> RunConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise RunDirError(f"{run_dir} has no config.json; pass a directory written by `memb train`")
    data = json.loads(path.read_text())
    data.pop("versions", None)
    return RunConfig.from_saved(data)


def versions() -> dict[str, str]:
    import flax
    import gymnasium
    import optax

    import memb

    return {
        "memb": memb.__version__,
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "gymnasium": gymnasium.__version__,
        "device": str(jax.devices()[0]),
    }


def train(
    config: RunConfig,
    out: str | Path,
    *,
    env: EnvSource | None = None,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = True,
    tensorboard: bool = True,
) -> TrainResult:
    """Train `config.algo` on `env` (default: `config.train.env`) and write the run directory `out`.

    With `resume=True`, `out` must be a run directory of the same config (only `steps` may grow); training continues
    from its newest intact checkpoint, or starts over when it has none.
    """
    run = prepare(config, out, env=env, overwrite=overwrite, resume=resume)
    try:
        ckpt = checkpoint.latest(run.out) if resume else None
        if ckpt is not None:
            run.restore(ckpt)
        elif resume:
            print(f"memb: {run.out} has no intact checkpoint; starting over", file=sys.stderr)
        return run.loop(progress=progress, tensorboard=tensorboard)
    finally:
        run.close()


def prepare(config: RunConfig, out: str | Path, *, env=None, overwrite=False, resume=False, agent=None) -> _Run:
    """Validate, make the envs and the agent (or share `agent`), and only then the run directory with its config."""
    tc = config.train
    out = Path(out)
    check_out(config, out, overwrite=overwrite, resume=resume)
    source = env if env is not None else tc.env
    train_env = make_env(source)
    eval_envs: list = []
    try:
        check_env_label(tc.env, source, train_env)
        for _ in range(tc.eval_episodes):
            eval_envs.append(make_env(source if isinstance(source, str) else _fresh(source)))
        if len({id(e.unwrapped) for e in [train_env, *eval_envs]}) < 1 + len(eval_envs):
            raise EnvError("the env factory returned one env twice; it must make a new env on every call")
    except BaseException:
        for e in {id(e.unwrapped): e for e in [train_env, *eval_envs]}.values():
            e.close()
        raise
    agent = agent if agent is not None else build_agent(config, train_env)
    check_buffer_fits(tc.buffer_capacity, agent.obs_dim, agent.act_dim)
    # Everything is validated: only now is the run directory made, and locked for as long as the run writes it.
    # A directory being resumed or overwritten is locked first, so that neither touches a live run.
    lock = lock_run_dir(out) if resume or out.is_dir() else None
    try:
        if not resume:
            if out.is_dir() and overwrite:
                for child in out.iterdir():  # all but the lock we hold
                    if child.name == LOCK_NAME:
                        continue
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
            out.mkdir(parents=True, exist_ok=True)
            lock = lock or lock_run_dir(out)
        write_json_atomic(out / "config.json", {**config.to_dict(), "versions": versions()})
        return _Run(config, agent, train_env, eval_envs, out, lock)
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def lock_run_dir(out: Path) -> DirectoryLock:
    """The run directory's lock, or a one-line RunDirError when another process is writing it."""
    try:
        return DirectoryLock(out)
    except DirectoryLocked as e:
        who = f"process {e.pid}" if e.pid is not None else "another process"
        raise RunDirError(
            f"{out} is being written by {who}; wait for that run to finish or stop it, or choose another --out"
        ) from None


def _fresh(source):
    """A second env from a factory; an env instance can't be copied, so evaluation then shares nothing with it."""
    if callable(source) and not isinstance(source, gym.Env):  # a function, or the env's class itself
        return source
    raise EnvError("pass env as an id or a factory (not an instance) so that evaluation gets its own envs")


class _Run:
    """One training run: the loop, its checkpoints and its guards."""

    def __init__(self, config: RunConfig, agent, train_env, eval_envs, out: Path, lock: DirectoryLock | None = None):
        self.config, self.tc, self.agent = config, config.train, agent
        self.lock = lock
        self.train_env, self.eval_envs, self.out = train_env, eval_envs, out
        self.scaler = ActionScaler(train_env.action_space)
        key = jax.random.PRNGKey(self.tc.seed)
        init_key, act_key, self.eval_key = jax.random.split(key, 3)
        self.state = init_state(agent, init_key)
        # what acting carries across env steps: the key, and for an agent with stateful exploration noise (DDPG's
        # Ornstein-Uhlenbeck process) its state too; restarted by `reset_act_carry` when an episode ends
        self.act_key = agent.act_carry(act_key) if hasattr(agent, "act_carry") else act_key
        self.rng = np.random.default_rng(self.tc.seed)  # random actions and replay sampling
        self.buffer = ReplayBuffer(self.tc.buffer_capacity, agent.obs_dim, agent.act_dim)
        self.loop_state = LoopState()
        self.loop_state.obs, _ = train_env.reset(seed=self.tc.seed)
        if not np.all(np.isfinite(self.loop_state.obs)):
            raise EnvError(f"{self.tc.env} returned a non-finite observation on reset; check the environment")
        self.stop_signal: int | None = None
        self.writer = self.bar = None

    def close(self) -> None:
        """Close the envs and release the run directory."""
        for e in [self.train_env, *self.eval_envs]:
            e.close()
        if self.lock is not None:
            self.lock.release()

    # ------------------------------------------------------------------------------------ the loop
    def loop(self, *, progress: bool, tensorboard: bool) -> TrainResult:
        tc, agent, ls = self.tc, self.agent, self.loop_state
        self.open_outputs(progress, tensorboard)
        previous = self._install_signal_handlers()
        try:
            with compiled_ahead(self.ahead_jobs if tc.compile_ahead else None) as ahead:
                while ls.step < tc.steps and not self.reached():
                    step = ls.step
                    if ahead is not None:  # what this step runs, if it was compiled ahead
                        ahead.wait(step)
                    # act: uniformly random first, then the stochastic policy
                    action = self.random_action()
                    if action is None and agent.uses_behavior_log_prob:  # for importance weights: log μ(a|s)
                        a, log_prob, self.act_key = agent.act_with_log_prob(self.state, ls.obs, self.act_key)
                        action = (a, log_prob)
                    elif action is None:
                        a, self.act_key = agent.act(self.state, ls.obs, self.act_key)
                        action = (a, 0.0)
                    self.env_step(*action)

                    # learn: every update of this env step in one jitted call, then the divergence guard
                    batches = self.sample(step)
                    if batches is not None:
                        self.apply_update(*agent.update(self.state, batches, step), step)
                    self.end_step()
        finally:
            self._restore_signal_handlers(previous)
            self.close_outputs()
        return self.finish()

    def ahead_jobs(self) -> list[Job]:
        """The programs this run will first need at or after its current step, to compile ahead (training/ahead.py):
        the update programs it has yet to run (the agent's `update_programs`), the first stochastic action after the
        random phase, and the next evaluation's batched deterministic action and model error."""
        agent, ls, state = self.agent, self.loop_state, self.state
        jobs = []
        if not hasattr(agent, "sample"):  # an agent that draws its own data: its batches' shapes are its own
            batch_size = agent.config.batch_size

            def compile_update(first: int, program, num_batches: int):
                return partial(_lower_and_compile, program, state, self.buffer.sample_spec(num_batches, batch_size))

            jobs += update_jobs(agent, len(self.buffer), self.buffer.capacity, ls.step, self.tc.steps, compile_update)
        first_act = agent.config.random_steps
        if ls.step <= first_act < self.tc.steps:
            act = agent.act_with_log_prob if agent.uses_behavior_log_prob else agent.act
            obs = np.array(ls.obs, np.float32)
            jobs.append(Job(first_act, "the policy's action", partial(act, state, obs, self.act_key)))
        return jobs + self.evaluation_jobs()

    def evaluation_jobs(self) -> list[Job]:
        """The next evaluation's batched deterministic action and model error (the multi-seed loop's seeds share
        them)."""
        tc, agent, step = self.tc, self.agent, self.loop_state.step
        # the loop step that ends with the next evaluation: an epoch's last, or the run's
        evaluation = min((step // tc.epoch_length + 1) * tc.epoch_length, tc.steps) - 1
        if evaluation < step:
            return []
        observations = np.zeros((tc.eval_episodes, agent.obs_dim), np.float32)
        greedy = partial(agent.act, self.state, observations, self.eval_key, deterministic=True)
        jobs = [Job(evaluation, "the evaluation's action", greedy)]
        horizon = getattr(self.eval_envs[0].spec, "max_episode_steps", None)
        if horizon:  # the held-out transitions of episodes that run to the time limit (else: compiled in vain)
            n = min(tc.eval_episodes * horizon, MAX_TRANSITIONS)
            held_out = _stand_in_transitions(n, agent.obs_dim, agent.act_dim)
            jobs.append(Job(evaluation, "the model error", partial(agent.model_error, self.state, held_out)))
        return jobs

    # the loop's pieces, also driven by the multi-seed loop (multiseed.py) for each seed
    def open_outputs(self, progress: bool, tensorboard: bool) -> None:
        ls = self.loop_state
        self.writer = _tensorboard(self.out, purge_step=ls.step or None) if tensorboard else None
        self.bar = _progress_bar(self.tc, ls.step, progress)
        self.epoch_start = time.perf_counter() - ls.epoch_seconds
        self.last_good = self._snapshot()

    def close_outputs(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()

    def reached(self) -> bool:
        """Whether the last evaluation reached `stop_return` (the run then ends early)."""
        rows, target = self.loop_state.eval_rows, self.tc.stop_return
        return target is not None and bool(rows) and rows[-1]["return_mean"] >= target

    def random_action(self) -> tuple[np.ndarray, float] | None:
        """A uniformly random action and its log-density during the random phase, else None."""
        if self.loop_state.step >= self.agent.config.random_steps:
            return None
        action = self.rng.uniform(-1.0, 1.0, self.agent.act_dim).astype(np.float32)
        return action, -self.agent.act_dim * math.log(2.0)  # uniform on [-1, 1]^d

    def env_step(self, action: np.ndarray, log_prob: float) -> None:
        ls = self.loop_state
        next_obs, reward, terminated, truncated, _ = self.train_env.step(self.scaler.to_env(action))
        if not np.all(np.isfinite(next_obs)) or not math.isfinite(reward):
            raise DivergenceError(
                f"the environment returned a non-finite observation or reward at step {ls.step + 1}; "
                "check the environment (memb cannot learn from NaN or inf)"
            )
        self.buffer.add(ls.obs, action, reward, next_obs, terminated, log_prob)
        ls.episode_return += float(reward)
        ls.obs = next_obs
        if terminated or truncated:
            ls.episode_returns.append(ls.episode_return)
            ls.episode_return = 0.0
            ls.obs, _ = self.train_env.reset()
            if hasattr(self.agent, "reset_act_carry"):
                self.act_key = self.agent.reset_act_carry(self.act_key)

    def sample(self, step: int):
        """This step's replay batches, or None when the agent does not update now."""
        agent = self.agent
        num_batches = agent.batches_per_step(step)
        if not num_batches or len(self.buffer) < agent.config.batch_size:
            return None
        if hasattr(agent, "sample"):  # an agent that draws its own data (MBPO: D_env for its model)
            return agent.sample(self.buffer, self.rng, step)
        return self.buffer.sample(self.rng, num_batches, agent.config.batch_size)

    def apply_update(self, new_state, info: dict, step: int) -> None:
        """Keep the update if every component stayed finite; else drop it and restore (the divergence guard)."""
        finite = np.asarray(info.pop("finite"))
        if finite.all():
            self.state = new_state
            self.loop_state.pending.append(info)
            self.loop_state.rounds += self.agent.rounds_per_step(step)
        else:  # this update is dropped; the agent goes back to its last checkpointed state
            self.last_good = self._diverged(step + 1, finite, info, self.last_good)

    def state_needed(self) -> bool:
        """Whether `end_step` will read the agent state after the step in progress (evaluate or checkpoint)."""
        ls, tc = self.loop_state, self.tc
        step = ls.step + 1
        return (
            step % tc.epoch_length == 0
            or step == tc.steps
            or self.stop_signal is not None
            or bool(tc.checkpoint_every and step % tc.checkpoint_every == 0)
        )

    def end_step(self) -> None:
        ls, tc = self.loop_state, self.tc
        ls.step += 1
        if self.bar is not None:
            self.bar.update(1)
        if ls.step % tc.epoch_length == 0 or ls.step == tc.steps:
            ls.epoch_seconds = time.perf_counter() - self.epoch_start
            self._end_epoch(self.writer, self.bar)
            self.epoch_start = time.perf_counter()
        if self.stop_signal is not None or (tc.checkpoint_every and ls.step % tc.checkpoint_every == 0):
            ls.epoch_seconds = time.perf_counter() - self.epoch_start
            self.save_checkpoint()
            self.last_good = self._snapshot()
            if self.stop_signal is not None:
                self._event("interrupted", signal=signal.Signals(self.stop_signal).name)
                raise Interrupted(self.stop_signal, self.out, ls.step)

    def finish(self) -> TrainResult:
        ls, tc = self.loop_state, self.tc
        if not tc.checkpoint_every or ls.step % tc.checkpoint_every:
            self.save_checkpoint()
        host_state = jax.device_get(self.state)
        write_bytes_atomic(self.out / "state.msgpack", flax.serialization.to_bytes(host_state))
        write_json_atomic(
            self.out / "summary.json",
            {
                "final_step": ls.step,
                "final_return_mean": ls.eval_rows[-1]["return_mean"],
                "final_return_std": ls.eval_rows[-1]["return_std"],
                "best_return_mean": max(r["return_mean"] for r in ls.eval_rows),
                "train_time_s": ls.train_seconds,
                "divergence_restores": ls.restores,
            },
        )
        return TrainResult(self.out, ls.eval_rows, ls.metric_rows, host_state, self.buffer)

    def _end_epoch(self, writer, bar) -> None:
        """Evaluate (deterministic, seeded by the evaluation's index), then write eval.csv and metrics.csv."""
        ls, tc = self.loop_state, self.tc
        ls.train_seconds += ls.epoch_seconds
        eval_start = time.perf_counter()
        seeds = np.random.SeedSequence([tc.seed, len(ls.eval_rows)]).generate_state(tc.eval_episodes)
        result = evaluate(self.agent, self.state, self.eval_envs, self.eval_key, seeds=[int(s) for s in seeds])
        eval_row = {"step": ls.step, **result.row()}
        ls.eval_rows.append(eval_row)
        steps_in_epoch = (ls.step - 1) % tc.epoch_length + 1
        model_error = self.agent.model_error(self.state, result.transitions) if result.transitions is not None else {}
        metric_row = {
            "step": ls.step,
            "episodes": len(ls.episode_returns),
            "train_return": float(np.mean(ls.episode_returns[-10:])) if ls.episode_returns else float("nan"),
            "alpha": getattr(self.agent.config, "alpha", float("nan")),
            **_mean_infos(ls.pending),
            **model_error,
            "updates_per_s": ls.rounds / ls.epoch_seconds,
            "env_steps_per_s": steps_in_epoch / ls.epoch_seconds,
            "train_time": ls.train_seconds,
            "eval_time": time.perf_counter() - eval_start,
        }
        if tc.trim_memory:  # after the evaluation's clock and before the next epoch's: in neither time column
            trim_heap()
        metric_row.update(resident_mb())
        ls.metric_rows.append(metric_row)
        ls.pending, ls.rounds, ls.epoch_seconds = [], 0, 0.0
        write_csv_atomic(self.out / "eval.csv", ls.eval_rows)
        write_csv_atomic(self.out / "metrics.csv", ls.metric_rows)
        if writer is not None:
            for k, v in eval_row.items():
                if k != "step":
                    writer.add_scalar(f"eval/{k}", v, ls.step)
            for k, v in metric_row.items():
                if k != "step" and math.isfinite(v):
                    writer.add_scalar(f"train/{k}", v, ls.step)
            writer.flush()
        if bar is not None:
            bar.set_postfix(
                eval=f"{eval_row['return_mean']:.1f}",
                sps=f"{metric_row['env_steps_per_s']:.0f}",
                ups=f"{metric_row['updates_per_s']:.0f}",
            )

    # ------------------------------------------------------------------------ divergence guard
    def _snapshot(self):
        """An in-memory copy of what a divergence restores: the agent state (the rest only moves forward)."""
        return jax.device_get(self.state)

    def _diverged(self, step: int, finite: np.ndarray, info: dict, last_good):
        bad = [c for c, ok in zip(self.agent.components, finite, strict=True) if not ok]
        losses = {k: float(v) for k, v in jax.device_get(info).items()}
        self._event("divergence", step=step, components=bad, losses=losses)
        tc = self.tc
        if tc.on_divergence == "stop" or self.loop_state.restores >= tc.max_restores:
            why = "on_divergence is stop" if tc.on_divergence == "stop" else f"{tc.max_restores} restores used"
            raise DivergenceError(
                f"non-finite {', '.join(bad)} update at step {step} ({why}); the last checkpoint is intact, "
                "lower the learning rate of that component or resume with --on-divergence restore"
            )
        # remedy: back to the last good agent state, with half the learning rate of each diverged component
        self.loop_state.restores += 1
        self.state = jax.device_put(last_good)
        for component in bad:
            self.state = self.agent.scale_learning_rate(self.state, component, 0.5)
        rates = self.agent.learning_rates(self.state)
        print(
            f"memb: warning: non-finite {', '.join(bad)} update at step {step}; restored the last good state and "
            f"halved the learning rate ({', '.join(f'{c} {rates[c]:.3g}' for c in bad)})",
            file=sys.stderr,
        )
        return self._snapshot()

    def _event(self, kind: str, **details) -> None:
        self.loop_state.events.append({"event": kind, "step": self.loop_state.step, **details})
        write_json_atomic(self.out / "events.json", self.loop_state.events)

    # ------------------------------------------------------------------------------- signals
    def _install_signal_handlers(self):
        def handler(signum, frame):
            if self.stop_signal is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt  # a second Ctrl-C: stop at once
            self.stop_signal = signum

        try:
            return {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: leave signals alone
            return {}

    @staticmethod
    def _restore_signal_handlers(previous) -> None:
        for s, h in previous.items():
            signal.signal(s, h)

    # ---------------------------------------------------------------------------- checkpoints
    def save_checkpoint(self) -> Path:
        ls, buf = self.loop_state, self.buffer
        host_state = jax.device_get(self.state)
        # the epoch's per-update metrics; an agent's updates need not all report the same keys (MBPO's model
        # metrics come only with a retraining), so each key is stored with the mask of the updates that have it
        keys = list(dict.fromkeys(k for p in ls.pending for k in p))
        present = {k: np.asarray([k in p for p in ls.pending]) for k in keys}
        pending = {}
        for k in keys:
            values = np.asarray([p[k] for p in ls.pending if k in p])  # the values' own dtype, as before
            pending[k] = np.zeros(len(ls.pending), values.dtype)
            pending[k][present[k]] = values
        loop = {
            "step": ls.step,
            "episode_return": ls.episode_return,
            "episode_returns": ls.episode_returns,
            "eval_rows": ls.eval_rows,
            "metric_rows": ls.metric_rows,
            "events": ls.events,
            "rounds": ls.rounds,
            "epoch_seconds": ls.epoch_seconds,
            "train_seconds": ls.train_seconds,
            "restores": ls.restores,
            "rng": self.rng.bit_generator.state,
            "buffer": {"size": buf.size, "pos": buf.pos},
            "env": get_env_state(self.train_env),
            "pending_keys": list(pending),
        }

        def arrays(f):
            n = buf.size
            data = io.BytesIO()  # np.savez needs a seekable file; the checkpoint writer hashes a stream
            np.savez(
                data,
                obs=np.asarray(ls.obs),
                # the acting carry's leaves (a bare key: one leaf, under its old name, as before)
                **{
                    ("act_key" if i == 0 else f"act_carry_{i}"): np.asarray(x)
                    for i, x in enumerate(jax.tree.leaves(self.act_key))
                },
                eval_key=np.asarray(self.eval_key),
                buffer_obs=buf.obs[:n],
                buffer_action=buf.action[:n],
                buffer_reward=buf.reward[:n],
                buffer_next_obs=buf.next_obs[:n],
                buffer_terminated=buf.terminated[:n],
                buffer_log_prob=buf.log_prob[:n],
                **{f"pending_{k}": v for k, v in pending.items()},
                **{f"present_{k}": v for k, v in present.items()},
            )
            f.write(data.getbuffer())

        return checkpoint.save(
            self.out,
            ls.step,
            {
                "agent.msgpack": lambda f: f.write(flax.serialization.to_bytes(host_state)),
                "arrays.npz": arrays,
                "loop.json": lambda f: f.write(json.dumps(loop).encode()),
            },
            keep=self.tc.keep_checkpoints,
        )

    def restore(self, path: Path) -> None:
        ls, buf = self.loop_state, self.buffer
        loop = json.loads((path / "loop.json").read_text())
        with np.load(io.BytesIO((path / "arrays.npz").read_bytes())) as arrays:
            a = {k: arrays[k] for k in arrays.files}
        template = jax.device_get(self.state)
        self.state = jax.device_put(flax.serialization.from_bytes(template, (path / "agent.msgpack").read_bytes()))
        n = loop["buffer"]["size"]
        if n > buf.capacity:
            raise RunDirError(f"the checkpoint's buffer holds {n} transitions, more than buffer_size; keep the config")
        buf.obs[:n], buf.action[:n], buf.reward[:n] = a["buffer_obs"], a["buffer_action"], a["buffer_reward"]
        buf.next_obs[:n], buf.terminated[:n] = a["buffer_next_obs"], a["buffer_terminated"]
        buf.log_prob[:n] = a.get("buffer_log_prob", 0.0)  # checkpoints from before it was recorded: zeros
        buf.size, buf.pos = n, loop["buffer"]["pos"]
        if buf.pos != n and buf.capacity > n:
            # the saved ring was full and this run's buffer is larger (a finished run continued with more --steps):
            # put the oldest transition first so that new ones append after the newest, as in one longer run
            for column in (buf.obs, buf.action, buf.reward, buf.next_obs, buf.terminated, buf.log_prob):
                column[:n] = np.roll(column[:n], -buf.pos, axis=0)
            buf.pos = n
        self.rng.bit_generator.state = loop["rng"]
        treedef = jax.tree.structure(self.act_key)  # this agent's acting carry, as made in __init__
        names = ["act_key", *(f"act_carry_{i}" for i in range(1, treedef.num_leaves))]
        fresh = jax.tree.leaves(self.act_key)  # a leaf that a checkpoint made before the agent had it lacks: as new
        leaves = [a[n] if n in a else x for n, x in zip(names, fresh, strict=True)]
        self.act_key = jax.tree.unflatten(treedef, [jax.numpy.asarray(x) for x in leaves])
        self.eval_key = jax.numpy.asarray(a["eval_key"])
        ls.step = loop["step"]
        ls.eval_rows, ls.metric_rows, ls.events = loop["eval_rows"], loop["metric_rows"], loop["events"]
        ls.episode_returns = loop["episode_returns"]
        ls.rounds, ls.epoch_seconds = loop["rounds"], loop["epoch_seconds"]
        ls.train_seconds, ls.restores = loop["train_seconds"], loop["restores"]
        keys = loop["pending_keys"]
        count = len(a[f"pending_{keys[0]}"]) if keys else 0
        has = {k: a.get(f"present_{k}", np.ones(count, bool)) for k in keys}  # older checkpoints: every key always
        ls.pending = [{k: a[f"pending_{k}"][i] for k in keys if has[k][i]} for i in range(count)] if keys else []
        if loop["env"] is not None:
            set_env_state(self.train_env, loop["env"])
            ls.obs, ls.episode_return = a["obs"], loop["episode_return"]
        else:
            # the env's state can't be captured: start a new episode, seeded by the step for reproducibility
            ls.obs, _ = self.train_env.reset(seed=self.tc.seed + ls.step)
            ls.episode_return = 0.0
            if hasattr(self.agent, "reset_act_carry"):
                self.act_key = self.agent.reset_act_carry(self.act_key)
            print(
                f"memb: warning: {self.tc.env}'s state can't be restored; the episode in progress at step {ls.step} "
                "was lost and a new one started",
                file=sys.stderr,
            )
        # the CSVs as of the checkpoint: rows written after it are dropped, none are repeated
        write_csv_atomic(self.out / "eval.csv", ls.eval_rows)
        write_csv_atomic(self.out / "metrics.csv", ls.metric_rows)
        print(f"memb: resuming {self.out} from step {ls.step}", file=sys.stderr)


def load_state(run_dir: Path, agent):
    """The state saved at the end of a run, restored into `agent`'s state structure."""
    template = jax.device_get(init_state(agent, jax.random.PRNGKey(0)))
    raw = flax.serialization.msgpack_restore((Path(run_dir) / "state.msgpack").read_bytes())
    _upgrade_optimizer_states(raw, flax.serialization.to_state_dict(template))
    return flax.serialization.from_state_dict(template, raw)


def _upgrade_optimizer_states(raw: dict, template: dict) -> None:
    """Runs saved before the learning rates moved into the optimizer state (optax.inject_hyperparams) hold bare
    Adam states; wrap each in the current structure, with the config's learning rate, so that they still load."""
    for name, opt in raw.get("opt_state", {}).items():
        new = template["opt_state"].get(name)
        if isinstance(opt, dict) and isinstance(new, dict) and "inner_state" in new and "inner_state" not in opt:
            raw["opt_state"][name] = {**new, "inner_state": opt, "count": opt["0"]["count"]}


def update_jobs(agent, buffered: int, capacity: int, step: int, steps: int, compile_update) -> list[Job]:
    """A compile-ahead job for each update program (the agent's `update_programs`) that a run at loop step `step`,
    ending at `steps`, with `buffered` of `capacity` transitions in its buffer, has yet to run;
    `compile_update(first step, program, batches it takes)` makes the job's compile."""
    batch_size = agent.config.batch_size
    if not hasattr(agent, "update_programs") or capacity < batch_size:
        return []
    # an update runs once the buffer holds a batch: from this step on, at the earliest
    filled = step + max(0, batch_size - 1 - buffered)
    programs = agent.update_programs()  # (first step, program, batches[, step from which to compile it])
    ends = [p[0] for p in programs[1:]] + [steps]  # each runs until the next one's first step
    jobs = []
    for (first, program, num_batches, *release), end in zip(programs, ends, strict=True):
        first = max(first, filled)
        if num_batches and step <= first < min(end, steps):
            compile_it = compile_update(first, program, num_batches)
            jobs.append(Job(first, f"the update of step {first}", compile_it, *release))
    return jobs


def _lower_and_compile(program, state, batches):
    return program.lower(state, batches).compile()


def _stand_in_transitions(n: int, obs_dim: int, act_dim: int) -> Batch:
    """Zeros shaped and typed as `evaluate`'s held-out transitions of `n` steps."""
    zeros = lambda *shape: np.zeros((n, *shape), np.float32)  # noqa: E731
    return Batch(obs=zeros(obs_dim), action=zeros(act_dim), reward=zeros(), next_obs=zeros(obs_dim), terminated=zeros())


def _mean_infos(infos: list[dict]) -> dict[str, float]:
    if not infos:
        return {}
    host = jax.device_get(infos)
    keys = sorted({k for info in host for k in info})
    return {k: float(np.mean([info[k] for info in host if k in info])) for k in keys}


def _tensorboard(out: Path, purge_step: int | None):
    """Event files; a resumed run purges the events logged after its checkpoint, so none are shown twice."""
    from tensorboardX import SummaryWriter

    return SummaryWriter(str(out / "tb"), purge_step=purge_step)


def _progress_bar(tc, initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=tc.steps, initial=initial, desc=tc.env, unit="step", mininterval=1.0, dynamic_ncols=True)
