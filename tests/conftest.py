# ruff: noqa: E402  (the cache settings below must precede the import of jax)
import os
from pathlib import Path

# JAX's persistent compilation cache, shared by the test workers and by every run and subprocess they spawn (each
# inherits the environment): most of the suite's time was compiling the same small MEMB update again in each new
# process. A cached executable is the compiled program itself, so results are unchanged. The cache lives beside
# pytest's own (.pytest_cache, ignored by git); a clean checkout starts with an empty one. Set before jax is imported.
_CACHE = Path(__file__).resolve().parent.parent / ".pytest_cache" / "jax"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import jax
import numpy as np
import pytest

from memb.agents import MEMB, Batch, MEMBConfig


def tiny_config(**overrides) -> MEMBConfig:
    base = dict(
        batch_size=8,
        policy_hidden=(8, 8),
        value_hidden=(8, 8),
        model_hidden=(8, 4),
        updates_per_step=2,
        random_steps=0,
        model_warmup_steps=0,
        # the rounds' scan rolled: the same updates (test_update_schedule_counts_and_warmup checks them against the
        # unrolled default's), compiled faster: the two files that use this config most took 115.7 s instead of
        # 131.5 s (-n 0, empty JAX cache, idle, 2026-12-04)
        unroll_rounds=False,
    )
    return MEMBConfig(**{**base, **overrides})


# a MEMB run of a few seconds (with steps=300): tiny networks, one short evaluation every 150 steps
TINY_RUN = dict(
    epoch_length=150,
    eval_episodes=1,
    random_steps=100,
    model_warmup_steps=50,
    batch_size=16,
    policy_hidden=(16, 16),
    value_hidden=(16, 16),
    model_hidden=(16, 16),
    updates_per_step=1,
)


def random_batch(rng: np.random.Generator, n: int, obs_dim: int, act_dim: int, dtype=np.float32) -> Batch:
    return Batch(
        obs=rng.normal(size=(n, obs_dim)).astype(dtype),
        action=rng.uniform(-1, 1, size=(n, act_dim)).astype(dtype),
        reward=rng.normal(size=(n,)).astype(dtype),
        next_obs=rng.normal(size=(n, obs_dim)).astype(dtype),
        terminated=(rng.uniform(size=(n,)) < 0.3).astype(dtype),
    )


def run_cli(args, capsys):
    """`memb ARGS` in this process: (exit code, stdout, stderr)."""
    from memb.cli.main import main

    try:
        code = main(args)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def tiny_agent():
    agent = MEMB(tiny_config(), obs_dim=3, act_dim=2)
    return agent, agent.init(jax.random.PRNGKey(0))
