"""What a run's memory is made of, for metrics.csv every epoch, and handing malloc's free pages back (Linux, glibc).

Standard library only (no JAX), so that a test can measure the allocator in a fresh process.
"""

from __future__ import annotations

import ctypes
import os
import sys

COLUMNS = ("rss_mb", "anon_mb", "heap_mb", "heap_free_mb", "py_blocks")  # what resident_mb adds to metrics.csv


def resident_mb() -> dict[str, float]:
    """This process's memory now, for metrics.csv every epoch (Linux; NaN where a figure is not available):
    - `rss_mb`, all of its resident memory, and `anon_mb`, the anonymous part (heap, replay buffer, JAX's arrays and
      executables), from /proc. `rss_mb` also counts the mapped library files, which the kernel may page out and in
      again at any time (this project's machine runs DAMON page-out), so it can drop without anything freed.
    - `heap_mb`: the bytes the C allocator has handed out and not yet had back (glibc's mallinfo2: `uordblks`, the
      arenas' chunks in use, plus `hblkhd`, the mmapped ones). XLA's CPU buffers come from it too. Resident memory
      also keeps what was freed but not returned to the system, so it moves in steps with the allocator's
      high-water marks; a leak is growth of `heap_mb` (or of `py_blocks`), not of `anon_mb` alone.
    - `heap_free_mb`: the free chunks malloc keeps in its arenas for reuse (`fordblks`), resident or not. Without a
      trim their touched pages stay resident; `trim_heap` (the trainer's `trim_memory`, every epoch just before this
      reading) releases those pages but leaves the chunks, and so this count, where they are.
    - `py_blocks`: the memory blocks Python's own allocator holds (sys.getallocatedblocks): a leak of Python objects.
    """
    in_use, free = _heap_mb()
    out = {"rss_mb": float("nan"), "anon_mb": float("nan"), "heap_mb": in_use, "heap_free_mb": free,
           "py_blocks": float(sys.getallocatedblocks())}  # fmt: skip
    try:
        with open("/proc/self/statm") as f:
            fields = f.read().split()
        page = os.sysconf("SC_PAGE_SIZE") / 2**20
        resident, shared = int(fields[1]), int(fields[2])  # shared: file-backed and shared-memory pages
        out.update(rss_mb=resident * page, anon_mb=(resident - shared) * page)
    except (OSError, ValueError, IndexError):
        pass
    return out


class _MallInfo2(ctypes.Structure):
    # glibc >= 2.33, malloc.h: struct mallinfo2, ten size_t fields
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]  # fmt: skip


def _heap_mb() -> tuple[float, float]:
    """(bytes in use, free bytes kept in the arenas) of glibc's allocator, in MiB; NaN without mallinfo2."""
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):  # not glibc, or older than 2.33
        return float("nan"), float("nan")
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return (info.uordblks + info.hblkhd) / 2**20, info.fordblks / 2**20


def trim_heap() -> bool:
    """Give the allocator's free pages back to the system (glibc's malloc_trim(0): every arena, not only the top of
    the main heap). glibc keeps freed chunks for reuse, so without it a long run's resident memory holds hundreds of
    MiB more than its bytes in use, released only now and then in one fall (benchmarks/results/performance/,
    sessions 11 and 12: MEMB on HalfCheetah, 1204 against 785 MiB). False where there is no malloc_trim."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True
