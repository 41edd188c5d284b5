"""What calling MEMB's jitted update costs on the host, beside what it computes.

    python benchmarks/dispatch_cost.py

At the HalfCheetah-v5 preset (batch 100, m = 5), on replay batches, the trainer's way (one call per env step, then
the divergence guard reads `finite`, which waits for the result):
  - identity: a jitted function that returns the agent state unchanged (a copy of every leaf) and a `finite` flag;
    what any call with this state costs, with almost no arithmetic;
  - update: the real per-env-step update, timed as the call itself (until it returns) and the wait for `finite`;
  - update, batches already on the device: the same with the host-to-device copy of the batches taken out.
Written to benchmarks/results/performance/dispatch-cost-<date>.json and .md. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from throughput import ACT, OBS, random_buffer  # noqa: E402

from memb.agents import MEMB  # noqa: E402
from memb.experiments import resolve  # noqa: E402

from _record import header, write_record  # noqa: E402


def timed(fn, state, batches, calls: int) -> tuple[float, float]:
    """Mean ms per call of (the call until it returns, the wait for its `finite` flag), after one warm call."""
    state, info = fn(state, batches())
    jax.block_until_ready(state)
    call = wait = 0.0
    for _ in range(calls):
        b = batches()
        t0 = time.perf_counter()
        new, info = fn(state, b)
        t1 = time.perf_counter()
        np.asarray(info["finite"])
        wait += time.perf_counter() - t1
        call += t1 - t0
        state = new
    return 1000 * call / calls, 1000 * wait / calls


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    started = header()
    run, _ = resolve({"env": "HalfCheetah-v5"})
    agent = MEMB(run.agent, OBS, ACT)
    rng = np.random.default_rng(0)
    buf = random_buffer(rng)
    state = agent.init(jax.random.PRNGKey(0))
    step = agent.update_programs()[-1][0]  # the full update a long run spends its time in (unrolled)
    n, batch = agent.batches_per_step(step), agent.config.batch_size
    leaves = jax.tree.leaves(state)

    identity = jax.jit(lambda s, b: (jax.tree.map(lambda x: x, s), {"finite": jnp.ones(3, bool)}))
    fixed = jax.device_put(buf.sample(rng, n, batch))
    cases = {
        "identity": (identity, lambda: buf.sample(rng, n, batch)),
        "update": (lambda s, b: agent.update(s, b, step), lambda: buf.sample(rng, n, batch)),
        "update, batches on the device": (lambda s, b: agent.update(s, b, step), lambda: fixed),
    }
    results = {name: [] for name in cases}
    for _ in range(args.repeats):  # alternating passes
        for name, (fn, batches) in cases.items():
            results[name].append(timed(fn, state, batches, args.calls))
    med = {name: tuple(float(np.median([r[i] for r in rs])) for i in range(2)) for name, rs in results.items()}
    record = {
        **started,
        "state_leaves": len(leaves),
        "state_floats": int(sum(x.size for x in leaves)),
        "ms_call_and_wait": results,
        "median_ms": med,
    }
    lines = [
        f"- MEMB's HalfCheetah-v5 preset, batch {batch}, {n} replay batches per env step; the agent state has "
        f"{len(leaves)} leaves, {record['state_floats']:,} floats",
        f"- {args.calls} calls a measurement, {args.repeats} alternating passes, medians over passes",
        "",
        "| case | call, until it returns (ms) | wait for `finite` (ms) | total (ms) |",
        "|---|---|---|---|",
        *(f"| {name} | {c:.3f} | {w:.3f} | {c + w:.3f} |" for name, (c, w) in med.items()),
    ]
    write_record("performance", "dispatch-cost-", record, "What a call of MEMB's update costs on the host", lines)


if __name__ == "__main__":
    main()
