"""JAX's persistent compilation cache for memb's runs.

A run's first minutes on a CPU include compiling its programs: for MEMB's paper presets on two cores, 6 s of agent
initialization (eager ops, each compiled at first use), 2 s for the model-only warm-up update and 5-15 s for the fused
per-env-step update. With the cache, a later run with the same settings loads them instead: 1.4 s, 0.1 s and 0.5-2 s
(`benchmarks/results/performance/compile-cost-*.md`). A cached program is the compiled program itself, so results are
unchanged.

The `memb` command turns the cache on for itself and every process it starts (`memb experiment`'s workers), in
`$XDG_CACHE_HOME/memb/jax/<machine>` (default `~/.cache/memb/jax/<machine>`), unless
  - `MEMB_COMPILATION_CACHE=DIR` puts it elsewhere, or `MEMB_COMPILATION_CACHE=off` leaves it off;
  - `JAX_COMPILATION_CACHE_DIR` is set: JAX's own setting then stands.
Compiled CPU code depends on the CPU's instruction set, so the default folder has one subfolder per kind of machine (a
cache in a home folder shared by a cluster's nodes never serves one kind's code to another). The cache is bounded at
1 GiB (JAX evicts the least recently used entries); a MEMB preset fills about 2 MiB.
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
MAX_BYTES = 2**30


def machine_tag() -> str:
    """12 hex digits naming this kind of machine for compiled code: CPU architecture and instruction-set flags, and
    the jaxlib version."""
    flags = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].strip() for line in f if line.startswith("flags")), flags)
    except OSError:
        pass
    try:
        jaxlib = metadata.version("jaxlib")
    except metadata.PackageNotFoundError:
        jaxlib = "?"
    return hashlib.sha256(f"{platform.machine()}|{flags}|{jaxlib}".encode()).hexdigest()[:12]


def default_directory(environ: Mapping[str, str] = os.environ) -> Path:
    base = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "memb" / "jax" / machine_tag()


def cache_settings(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment variables that turn JAX's cache on as described above; empty when it stays as it is (off, or
    set by the user through JAX's own variable)."""
    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return {}
    where = environ.get("MEMB_COMPILATION_CACHE", "").strip()
    if where.lower() in OFF:
        return {}
    directory = Path(where).expanduser() if where else default_directory(environ)
    return {
        "JAX_COMPILATION_CACHE_DIR": str(directory),
        # every program, however quick to compile: the agents' eager initialization is hundreds of small ones
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
        "JAX_COMPILATION_CACHE_MAX_SIZE": str(MAX_BYTES),
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
        jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    where = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    return Path(where) if where else None
