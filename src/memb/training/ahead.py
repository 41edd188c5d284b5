"""Compiling what a run needs later on background threads, while the loop does what it needs now.

Much of a short run's wall-clock on a CPU is XLA compiling (benchmarks/compile_cost.py): MEMB's fused update takes
12-15 s to compile on a 2-core machine, and the loop used to stop for it at the end of the model-only warm-up, and
again for the policy's first stochastic action and for the first evaluation's programs. `CompileAhead` compiles them
on two background threads (one on a single core) from the loop's start, the soonest needed first, and the loop waits
for a program only before the step that first needs it, and only for what is not done by then. A job may have a
release step before which it does not start (MEMB's unrolled update, needed thousands of steps later, would otherwise
compete with a short run's first updates). XLA compiles with the
GIL released (tracing and lowering hold it), so the loop's random steps, warm-up updates and first evaluation go on
meanwhile. On two cores the compile, which keeps about 1.6 cores busy itself, competes with them: it saves 1-8 s of
a preset's start there, not the whole compile (benchmarks/compile_ahead.py); more where cores are idle.

A program compiled ahead is the program the loop would have compiled itself (the same jitted function, arguments of
the same shapes and types), so a run's numbers do not change, and since the loop waits for it, it is not compiled
twice. A program is compiled in vain where the loop's call turns out to differ: the model error of an evaluation
whose episodes end before the time limit (Hopper, Walker2d), or a run whose caller set a thread-local JAX context
(`jax.default_device`, ...) that the background threads do not see. One whose compile ahead fails is compiled when
first needed, as before, after a one-line warning. The act programs are compiled by calling `agent.act` on stand-in
data on a background thread: an agent's `act` must be pure. The multi-seed loop (multiseed.py) compiles its groups'
vmapped programs ahead the same way.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

THREAD_PREFIX = "memb-compile-ahead"


def compiling() -> bool:
    """Whether a compile ahead still runs in this process (the interpreter would wait for it at exit)."""
    return any(t.name.startswith(THREAD_PREFIX) and t.is_alive() for t in threading.enumerate())


@dataclass(frozen=True)
class Job:
    step: int  # the first loop step that needs the program: the loop waits for it before this step
    name: str  # for the warning when it fails
    compile: Callable[[], object]  # compiles the program: an AOT `lower(...).compile()` or a call on stand-in data
    release: int = 0  # the loop step from which it may start (at the latest `step`): a compile started earlier
    # would compete with the loop


class CompileAhead:
    """Starts `jobs` on `workers` background threads, each from its release step, the soonest needed first (so that
    a job due at once never queues behind a long compile due later); `wait(step)` before each loop step."""

    def __init__(self, jobs: list[Job], workers: int | None = None):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        workers = workers or min(2, cores)
        self._pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=THREAD_PREFIX)
        # [job, its future], soonest needed first; and the same entries in the order they start, the next one last
        self._pending: list[list] = [[job, None] for job in sorted(jobs, key=lambda j: j.step)]
        self._unstarted = sorted(self._pending, key=lambda e: (_start(e[0]), e[0].step), reverse=True)
        self._next = 0

    def wait(self, step: int) -> None:
        """Start the jobs released by loop step `step`; then block until every program that step may use is compiled
        (or failed to)."""
        while self._unstarted and _start(self._unstarted[-1][0]) <= step:
            entry = self._unstarted.pop()
            entry[1] = self._pool.submit(entry[0].compile)
        while self._next < len(self._pending) and self._pending[self._next][0].step <= step:
            job, future = self._pending[self._next]
            self._pending[self._next] = None  # a job holds the agent state it was made with: let it go
            self._next += 1
            try:
                future.result()
            except Exception as e:  # the loop compiles it when it first calls it, as without compiling ahead
                first = str(e).splitlines()[0] if str(e) else ""
                print(
                    f"memb: warning: compiling {job.name} ahead failed ({type(e).__name__}: {first}); "
                    "it is compiled when first needed",
                    file=sys.stderr,
                )

    def close(self, wait: bool = True) -> None:
        """Drop the jobs not started; with `wait`, wait for those running (an XLA compile can't be stopped part-way;
        without it, the interpreter still waits for them at exit)."""
        self._pool.shutdown(wait=wait, cancel_futures=True)
        self._pending, self._unstarted = [], []


@contextlib.contextmanager
def compiled_ahead(jobs: Callable[[], list[Job]] | None, workers: int | None = None) -> Iterator[CompileAhead | None]:
    """A loop's `CompileAhead` over `jobs()` (None: no compiling ahead, and None is yielded). When the loop ends, it
    waits for the compiles still running; when it fails or is interrupted, it drops them without waiting."""
    ahead = CompileAhead(jobs(), workers) if jobs is not None else None
    del jobs  # the jobs let go of what they were made with once waited for (CompileAhead.wait); keep nothing here
    try:
        yield ahead
    except BaseException:
        if ahead is not None:  # do not wait out compiles that nothing will use
            ahead.close(wait=False)
            ahead = None
        raise
    finally:
        if ahead is not None:
            ahead.close()


class Shared:
    """One compile that several loops' jobs run (the multi-seed groups' evaluation programs): the first call
    compiles, and a call meanwhile or later waits for that compile and shares its outcome, so that the program is
    compiled once and every loop waits for it before the step that needs it."""

    def __init__(self, compile: Callable[[], object]):
        self._compile: Callable[[], object] | None = compile
        self._lock = threading.Lock()
        self._error: Exception | None = None

    def __call__(self) -> None:
        with self._lock:
            if self._compile is not None:
                try:
                    self._compile()
                except Exception as e:
                    self._error = e
                self._compile = None  # let go of the state it was made with
        if self._error is not None:
            raise self._error


def _start(job: Job) -> int:
    """The loop step from which `job` may start: its release, and at the latest the step that needs it."""
    return min(job.release, job.step)
