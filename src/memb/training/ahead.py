"""Compiling what a run needs later on background threads, while the loop does what it needs now.

Much of a short run's wall-clock on a CPU is XLA compiling (benchmarks/compile_cost.py): MEMB's fused update takes
12-15 s to compile on a 2-core machine, and the loop used to stop for it at the end of the model-only warm-up, and
again for the policy's first stochastic action and for the first evaluation's programs. `CompileAhead` compiles
them on two background threads from the loop's start (the update programs first: they take longest), and the loop
waits for a program only before the step that first needs it, and only for what is not done by then. XLA compiles
with the GIL released, so the loop's random steps, warm-up updates and first evaluation go on meanwhile.

A program compiled ahead is the program the loop would have compiled itself (the same jitted function, arguments of
the same shapes and types), so a run's numbers do not change, and since the loop waits for it, it is not compiled
twice. One whose compile ahead fails is compiled when first needed, as before, after a one-line warning.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    step: int  # the first loop step that needs the program: the loop waits for it before this step
    name: str  # for the warning when it fails
    compile: Callable[[], object]  # compiles the program: an AOT `lower(...).compile()` or a call on stand-in data


class CompileAhead:
    """Starts `jobs` in the order given on `workers` background threads; `wait(step)` before each loop step.

    List the long compiles first: with two workers one of them starts on the longest at once, while the other
    compiles what the loop needs soon.
    """

    def __init__(self, jobs: list[Job], workers: int | None = None):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        workers = workers or min(2, cores)
        self._pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="memb-compile-ahead")
        futures = [self._pool.submit(job.compile) for job in jobs]
        order = sorted(range(len(jobs)), key=lambda i: jobs[i].step)  # the loop waits for them in this order
        self._pending = [(jobs[i], futures[i]) for i in order]
        self._next = 0

    def wait(self, step: int) -> None:
        """Block until every program that loop step `step` may use is compiled (or failed to)."""
        while self._next < len(self._pending) and self._pending[self._next][0].step <= step:
            job, future = self._pending[self._next]
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

    def close(self) -> None:
        """Drop the jobs not started; wait for those running (an XLA compile can't be stopped part-way)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
