"""JAX's persistent compilation cache for memb's runs.

A run's start on a CPU is mostly compiling: for MEMB's paper presets on two cores, 5.5-7 s of agent initialization
(eager ops, each compiled at first use), 2-2.5 s for the model-only warm-up update and 4-15.5 s for the fused
per-env-step update. With the cache, a later run with the same settings loads them instead: about 1.4 s, 0.1 s and
0.4-2 s; tracing and lowering (0.2-0.7 s a program) are not cached. In all, 12-26 s of start-up become 2.5-5 s
(`benchmarks/results/performance/compile-cost-2026-12-04T1003.md`). A cached program is the compiled program itself,
so results are unchanged.

The `memb` command turns the cache on for itself and every process it starts (`memb experiment`'s workers), in
`$XDG_CACHE_HOME/memb/jax/<machine>` (default `~/.cache/memb/jax/<machine>`), unless
  - `MEMB_COMPILATION_CACHE=DIR` puts it elsewhere, or `MEMB_COMPILATION_CACHE=off` leaves it off;
  - `JAX_COMPILATION_CACHE_DIR` is set: JAX's own setting then stands.
Compiled CPU code depends on the CPU's instruction set, so the default folder has one subfolder per kind of machine (a
cache in a home folder shared by a cluster's nodes never serves one kind's code to another). A MEMB preset fills about
3 MiB. The folder is not bounded: JAX's bound (`jax_compilation_cache_max_size`) needs the `filelock` package, takes
a file lock on every read, and its bookkeeping breaks for good when a process is killed between an entry and its
access-time file, which memb's kill-and-resume makes an expected event. Delete the folder to empty it.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

OFF = ("off", "0", "false", "no", "none")


def machine_tag() -> str:
    """12 hex digits naming this kind of machine for compiled code: CPU architecture and instruction-set flags, and
    the jaxlib version."""
    flags = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:  # x86's "flags", ARM's "Features"
            flags = next((line.split(":", 1)[1].strip() for line in f if line.startswith(("flags", "Features"))), flags)
    except OSError:
        pass
    try:
        jaxlib = metadata.version("jaxlib")
    except metadata.PackageNotFoundError:
        jaxlib = "?"
    return hashlib.sha256(f"{platform.machine()}|{flags}|{jaxlib}".encode()).hexdigest()[:12]


def default_directory(environ: Mapping[str, str] = os.environ) -> Path:
    base = Path(environ["XDG_CACHE_HOME"]) if environ.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "memb" / "jax" / machine_tag()


def cache_settings(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment variables that turn JAX's cache on as described above; empty when it stays as it is (off, or
    set by the user through JAX's own variable)."""
    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return {}
    where = environ.get("MEMB_COMPILATION_CACHE", "").strip()  # empty or unset: the default folder
    if where.lower() in OFF:
        return {}
    try:
        directory = Path(where).expanduser() if where else default_directory(environ)
    except RuntimeError:  # no home folder to put it in: the cache stays off
        return {}
    return {
        "JAX_COMPILATION_CACHE_DIR": str(directory.resolve()),  # absolute: workers may run elsewhere
        # every program, however quick to compile: the agents' eager initialization is hundreds of small ones
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }


def use_compilation_cache() -> Path | None:
    """Turn JAX's persistent compilation cache on for this process and the processes it starts, as the module says;
    returns its folder (None when off). Call it before the first jitted computation."""
    settings = cache_settings()
    os.environ.update(settings)
    if settings and "jax" in sys.modules:  # jax read its environment when imported: tell it directly too
        import jax

        jax.config.update("jax_compilation_cache_dir", settings["JAX_COMPILATION_CACHE_DIR"])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    where = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    return Path(where) if where else None
