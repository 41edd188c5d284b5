"""Running a grid: a local process pool (each run pinned to its share of the cores) or a Ray cluster.

The experiment directory holds experiment.json (the grid), index.csv (one row per run: status, step, last return)
and one run directory per run. Running the same experiment again skips the runs that finished, resumes the ones
that stopped from their newest checkpoint (a run killed with the coordinator resumes bit-identical), and the ones
that failed from theirs too (starting over when they have none). A failing run is recorded in the index with its
one-line error; the others go on.
Only the coordinator writes index.csv and experiment.json, atomically; each run writes only its own directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import multiprocessing as mp
import multiprocessing.connection
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from memb import config as cfg
from memb.experiments.grid import Experiment, Run, expand
from memb.training import RunConfig, make_env
from memb.training.io import write_csv_atomic, write_json_atomic

STATUSES = ("done", "skipped", "queued", "running", "failed", "interrupted")


@dataclass
class RunState:
    run: Run
    status: str = "queued"  # see STATUSES; "skipped" = done before this invocation
    step: int = 0
    last_return: float | None = None
    error: str = ""
    resume: bool = False

    def row(self) -> dict[str, Any]:
        return {
            "run": self.run.name,
            "label": self.run.label,
            "algo": self.run.config.algo,
            "env": self.run.env,
            "seed": self.run.seed,
            "steps": self.run.config.train.steps,
            "status": self.status,
            "step": self.step,
            "last_return": "" if self.last_return is None else round(self.last_return, 3),
            "error": self.error,
        }


# agent fields that change a run's numbers by float rounding at most (which compiled program runs when): a run written
# with another value is the same run, and keeps its own value when it resumes, so that it stays bit-identical
SPEED_ONLY = ("unroll_rounds_after",)


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """A config without what may differ between invocations of one experiment (the budget, the versions, the
    speed-only fields)."""
    train = {k: v for k, v in config.get("train", {}).items() if k != "steps"}
    agent = {k: v for k, v in config.get("agent", {}).items() if k not in SPEED_ONLY}
    return {"algo": config.get("algo", "memb"), "train": train, "agent": agent}


def _last_eval(run_dir: Path) -> tuple[int, float | None]:
    try:
        df = pd.read_csv(run_dir / "eval.csv")
    except (FileNotFoundError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return 0, None
    if df.empty:
        return 0, None
    return int(df["step"].iloc[-1]), float(df["return_mean"].iloc[-1])


def classify(run: Run, run_dir: Path) -> RunState:
    """Done (its summary reaches the budget), to resume (it has a config), or new. A different config is an error."""
    state = RunState(run)
    config_file = run_dir / "config.json"
    if not config_file.is_file():
        return state
    saved = json.loads(config_file.read_text())
    saved.pop("versions", None)
    try:  # through the config classes, so that fields added since the run was written take their defaults
        saved = RunConfig.from_saved(saved).to_dict()
    except cfg.ConfigError:
        pass  # an unreadable config differs
    mine = run.config.to_dict()
    if _comparable(saved) != _comparable(mine):
        raise cfg.ConfigError(
            f"{run_dir} holds a run with another config; pass a new --out, or delete that run directory to redo it"
        )
    own = {k: saved["agent"][k] for k in SPEED_ONLY if k in saved.get("agent", {}) and k in mine["agent"]}
    if any(mine["agent"][k] != v for k, v in own.items()):
        state.run = dataclasses.replace(run, config=RunConfig.from_dict({**mine, "agent": {**mine["agent"], **own}}))
    state.step, state.last_return = _last_eval(run_dir)
    steps, started_for = run.config.train.steps, saved.get("train", {}).get("steps")
    if reached_budget(run, run_dir):
        state.status = "skipped"
    elif isinstance(started_for, int) and started_for > steps:  # a smaller budget than the run was started with
        if state.step < steps:
            raise cfg.ConfigError(
                f"{run_dir} was started for {started_for} steps and stopped at {state.step}, short of this budget's "
                f"{steps}, and a run can't resume to fewer steps; pass a budget of at least {started_for} steps, "
                "or a new --out"
            )
        state.status = "skipped"  # it has evaluations at this budget: `memb report` reads them
    else:
        state.resume = True
    return state


def reached_budget(run: Run, run_dir: Path) -> bool:
    """Whether the run in `run_dir` has finished its steps (its summary says so)."""
    summary = run_dir / "summary.json"
    return summary.is_file() and json.loads(summary.read_text()).get("final_step", -1) >= run.config.train.steps


# ----------------------------------------------------------------------------------------------- one run, anywhere


def run_one(config: dict[str, Any], run_dir: str, resume: bool, cpus: list[int] | None = None) -> tuple[str, str]:
    """Train one run into `run_dir`, its output appended to RUN_DIR.log beside it. Returns (status, one-line error)."""
    if cpus:
        os.sched_setaffinity(0, cpus)  # before JAX starts its thread pool, which then sizes itself to these cores
    path = Path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path(path), "a") as log, _redirect_output(log):
        try:
            from memb.training import Interrupted, train

            train(RunConfig.from_dict(config), path, resume=resume, overwrite=not resume, progress=False)
            return "done", ""
        except Interrupted as e:
            return "interrupted", str(e)
        except Exception as e:  # one run's failure is recorded, never raised into the others
            import traceback

            traceback.print_exc()
            message = str(e).splitlines()[0] if str(e) else ""
            return "failed", f"{type(e).__name__}: {message}"


def run_group(
    configs: list[dict[str, Any]], run_dirs: list[str], resume: bool, cpus: list[int] | None = None
) -> list[tuple[str, str]]:
    """Train runs that differ only in their seed in one process (`memb train --seeds`); one run goes to `run_one`.
    The group's output goes to its first run's log; the others' logs point there."""
    if len(configs) == 1:
        return [run_one(configs[0], run_dirs[0], resume, cpus)]
    if cpus:
        os.sched_setaffinity(0, cpus)
    paths = [Path(d) for d in run_dirs]
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    for other in paths[1:]:
        with open(log_path(other), "a") as log:
            log.write(f"trained in one process with {', '.join(p.name for p in paths)}: see {log_path(paths[0])}\n")
    with open(log_path(paths[0]), "a") as log, _redirect_output(log):
        try:
            from memb.training import Interrupted
            from memb.training.multiseed import train_seeds

            runs = [RunConfig.from_dict(c) for c in configs]
            train_seeds(
                runs[0], [r.train.seed for r in runs], paths, resume=resume, overwrite=not resume, progress=False
            )
            return [("done", "")] * len(paths)
        except Interrupted as e:
            return [("interrupted", str(e))] * len(paths)
        except Exception as e:
            import traceback

            traceback.print_exc()
            message = str(e).splitlines()[0] if str(e) else ""
            return [("failed", f"{type(e).__name__}: {message}")] * len(paths)


def group_seeds(todo: list[RunState]) -> list[list[RunState]]:
    """Runs of one label and env (and of the same resume state) whose agent can be vmapped over seeds, together."""
    from memb.training.multiseed import vmappable

    groups: dict[tuple, list[RunState]] = {}
    for i, s in enumerate(todo):
        speed = tuple(getattr(s.run.config.agent, k, None) for k in SPEED_ONLY)  # one config per group
        key = (s.run.label, s.run.config.train.env, s.resume, speed) if vmappable(s.run.config) else (i,)
        groups.setdefault(key, []).append(s)
    return list(groups.values())


def log_path(run_dir: Path) -> Path:
    """Where a run's output goes: beside its directory, which `train` may replace."""
    return run_dir.with_name(run_dir.name + ".log")


@contextlib.contextmanager
def _redirect_output(log):
    """Point file descriptors 1 and 2 (Python's and C's output) at `log` for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _process_task(send, configs: list[dict[str, Any]], run_dirs: list[str], resume: bool, cpus: list[int]) -> None:
    """The body of one local worker process: train one group of runs on `cpus` and send back their results."""
    try:
        results = run_group(configs, run_dirs, resume, cpus)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # trained: a stop from now on must not lose the results
        send.send(results)
    finally:
        send.close()


def core_shares(workers: int, cores: list[int] | None = None) -> list[list[int]]:
    """Split the usable cores into `workers` near-equal groups (one per concurrent run)."""
    cores = sorted(os.sched_getaffinity(0)) if cores is None else list(cores)
    workers = max(1, min(workers, len(cores)))
    return [cores[i::workers] for i in range(workers)]


# ----------------------------------------------------------------------------------------------- the coordinator


class Display:
    """Every run's status, step and last return: redrawn in place on a terminal, one line per change otherwise."""

    def __init__(self, enabled: bool, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.lines = 0
        self.seen: dict[str, tuple] = {}

    def update(self, states: list[RunState], elapsed: float) -> None:
        if not self.enabled:
            return
        if self.tty:
            counts = {s: sum(st.status == s for st in states) for s in STATUSES}
            head = f"memb experiment: {elapsed:6.0f}s  " + "  ".join(f"{k} {v}" for k, v in counts.items() if v)
            width = max(len(st.run.name) for st in states)
            rows = [head] + [
                f"  {st.run.name:<{width}}  {st.status:<11} {st.step:>8}/{st.run.config.train.steps:<8} "
                f"{'' if st.last_return is None else f'{st.last_return:10.1f}'}"
                for st in states
            ]
            out = (f"\x1b[{self.lines}F" if self.lines else "") + "".join(f"\x1b[2K{r}\n" for r in rows)
            self.stream.write(out)
            self.lines = len(rows)
        else:
            for st in states:
                key = (st.status, st.step)
                if self.seen.get(st.run.name) != key:
                    self.seen[st.run.name] = key
                    ret = "" if st.last_return is None else f" return {st.last_return:.1f}"
                    err = f" ({st.error})" if st.error else ""
                    self.stream.write(f"memb experiment: {st.run.name} {st.status} step {st.step}{ret}{err}\n")
        self.stream.flush()


def run_experiment(
    experiment: Experiment,
    out: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    cpus_per_run: float = 1.0,
    progress: bool = True,
    poll_s: float = 2.0,
    vmap_seeds: bool = False,
) -> list[RunState]:
    """Run every run of `experiment` under `out` that has not finished; returns the final state of each.

    With `vmap_seeds`, the seeds of each configuration and env train in one process (`memb train --seeds`)."""
    cfg.one_of("backend", backend, ("local", "ray"))
    cfg.positive("cpus_per_run", cpus_per_run)
    if workers is not None:
        cfg.positive("workers", workers, integer=True)
    if address is not None and backend != "ray":
        raise cfg.ConfigError("--address is for --backend ray; drop it or add --backend ray")
    out = Path(out)
    runs = expand(experiment)
    states = [classify(run, out / run.name) for run in runs]  # raises before anything is written
    if backend == "ray" and importlib.util.find_spec("ray") is None:
        raise cfg.ConfigError("--backend ray needs Ray: pip install 'memb[ray]'")
    if backend == "local":  # every env made once here, so that a bad id is one error, not a failed run each
        for env_id in dict.fromkeys(s.run.env for s in states if s.status == "queued"):
            make_env(env_id).close()
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "experiment.json", experiment.to_dict())
    todo = [s for s in states if s.status == "queued"]
    started = time.time()
    display = Display(progress)

    def refresh() -> None:
        for s in todo:
            run_dir = out / s.run.name
            if s.status == "queued" and (run_dir / "config.json").is_file():
                if (run_dir / "config.json").stat().st_mtime >= started:
                    s.status = "running"
            if s.status in ("running", "done", "failed", "interrupted"):
                s.step, s.last_return = _last_eval(run_dir)
        write_csv_atomic(out / "index.csv", [s.row() for s in states])
        display.update(states, time.time() - started)

    def finish(state: RunState, result: tuple[str, str]) -> None:
        state.status, state.error = result

    refresh()
    if todo:
        submit = _ray_backend if backend == "ray" else _local_backend
        previous = _sigterm_as_interrupt()
        try:
            groups = group_seeds(todo) if vmap_seeds else [[s] for s in todo]
            submit(groups, out, workers, address, cpus_per_run, poll_s, refresh, finish)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            refresh()
    return states


def _sigterm_as_interrupt():
    """SIGTERM stops the coordinator like Ctrl-C (the runs checkpoint); returns the previous handler."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        return None


def _local_backend(groups, out, workers, address, cpus_per_run, poll_s, refresh, finish) -> None:
    """Each group of runs in a fresh spawned process (JAX must not be forked), at most `workers` at a time, each on
    its own share of the cores. Hand-written rather than a ProcessPoolExecutor: a pool hands tasks to its workers
    ahead of time, and after a SIGTERM its shutdown could hang on a worker that had already finished its task;
    here a queued group has no process until it starts, and a stop reaches exactly the processes that run."""
    n_cores = len(os.sched_getaffinity(0))
    if workers is None:
        workers = max(1, int(n_cores // cpus_per_run))
    workers = min(workers, len(groups))
    ctx = mp.get_context("spawn")
    free, queued = core_shares(workers), list(groups)
    running: dict = {}  # process -> (group, its core share, the pipe its results come back on)
    received: dict = {}  # process -> its results, read as soon as they arrive (None: it closed the pipe without)
    stopping = False

    def without_report(group: list[RunState], exitcode: int | None) -> list[tuple[str, str]]:
        """The results of a group whose process ended without reporting them."""
        results = []
        for state in group:
            if reached_budget(state.run, Path(out) / state.run.name):  # stopped after training, before it could report
                results.append(("done", ""))
            elif stopping and exitcode in (-signal.SIGTERM, -signal.SIGINT, 1):  # stopped before training began
                results.append(("interrupted", "the experiment was stopped before this run started"))
            else:  # killed, out of memory
                results.append(("failed", f"its worker process ended with exit code {exitcode}"))
        return results

    def collect(timeout: float | None) -> None:
        """Wait up to `timeout` for a process to report or end; finish the runs of every process that has ended."""
        pipes = [r for p, (_, _, r) in running.items() if p not in received]
        if running:
            mp.connection.wait([p.sentinel for p in running] + pipes, timeout=timeout)
        for process, (group, share, receive) in list(running.items()):
            if process not in received and receive.poll():
                try:
                    received[process] = [tuple(r) for r in receive.recv()]
                except (EOFError, OSError):
                    received[process] = None
                receive.close()
            if process.is_alive():
                continue
            process.join()
            results = received.get(process) or without_report(group, process.exitcode)
            for state, result in zip(group, results, strict=True):
                finish(state, result)
            del running[process]  # only once finished: a stop in between still finds it here
            received.pop(process, None)
            free.append(share)

    try:
        while queued or running:
            while queued and free:
                group, share = queued[0], free[0]
                receive, send = ctx.Pipe(duplex=False)
                process = ctx.Process(target=_process_task, args=(send, *_task(group, out), share))
                process.start()
                running[process] = (group, share, receive)
                del queued[0], free[0]
                send.close()  # the child holds the only write end: its death reads as EOF here
            collect(poll_s)
            refresh()
    except BaseException:
        # Ctrl-C or SIGTERM: queued groups never start; running ones get SIGTERM, checkpoint and report "interrupted"
        # (SIGTERM, because after a terminal's Ctrl-C, which reached them too, a second SIGINT means "stop at once")
        stopping = True
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
        while running:
            collect(None)
        raise


def _task(group: list[RunState], out: Path) -> tuple[list[dict], list[str], bool]:
    return (
        [s.run.config.to_dict() for s in group],
        [str(Path(out).resolve() / s.run.name) for s in group],
        group[0].resume,
    )


def _wait_all(pending: dict, refresh, finish, result_of, wait) -> None:
    """Finish each group's runs as its task completes (`wait` returns the references that are done)."""
    while pending:
        done = wait(list(pending))
        for f in done:
            group = pending.pop(f)
            try:
                results = [tuple(r) for r in result_of(f)]
            except Exception as e:  # the worker process itself died (killed, out of memory)
                results = [("failed", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")] * len(group)
            for state, result in zip(group, results, strict=True):
                finish(state, result)
        refresh()


def _ray_backend(groups, out, workers, address, cpus_per_run, poll_s, refresh, finish) -> None:
    try:
        import ray
    except ImportError:
        raise cfg.ConfigError("--backend ray needs Ray: pip install 'memb[ray]'") from None
    if not ray.is_initialized():
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=workers or len(os.sched_getaffinity(0)), log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise cfg.ConfigError(f"cannot start or join {where} ({first}); check --address") from None
    # max_calls=1: a fresh worker process per run, so each run's JAX sizes its threads to the CPUs Ray gives it.
    # The run directories must be on a filesystem that every node shares.
    remote = ray.remote(num_cpus=cpus_per_run, max_calls=1)(run_group)
    refs = {remote.remote(*_task(g, out)): g for g in groups}
    _wait_all(refs, refresh, finish, ray.get, wait=lambda refs: ray.wait(refs, num_returns=1, timeout=poll_s)[0])
