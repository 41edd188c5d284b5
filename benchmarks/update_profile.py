"""Where the fused MEMB update loses to the matmul roofline: each piece of a round timed alone.

The model step, the policy step (through the models) and the value step are each jitted as a `lax.scan` of m
steps over the same replay batches as the fused update, timed on an otherwise idle machine, and set beside their
matmul FLOPs (`memb.agents.memb.update_flops`), so that each piece's GFLOP/s shows which one runs furthest below
the 256³ matmul rate measured in the same run. Shape: issue 7's batch 256, every MLP (256, 256), m = 5.

    python benchmarks/update_profile.py [--seconds 3] [--record update-profile-]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from throughput import ACT, OBS, matmul_gflops  # noqa: E402

from memb.agents import MEMB  # noqa: E402
from memb.agents.common import polyak_update  # noqa: E402
from memb.agents.memb import update_flops  # noqa: E402
from memb.experiments import resolve  # noqa: E402
from memb.training import ReplayBuffer  # noqa: E402

from _record import header, write_record  # noqa: E402


def rate(fn, state, batches, seconds: float) -> float:
    """Calls per second of `fn(state, batches)`, median of three windows, the state threaded through."""
    state = jax.block_until_ready(fn(state, batches)[0])
    rates = []
    for _ in range(3):
        calls, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            state = fn(state, batches)[0]
            calls += 1
        jax.block_until_ready(state)
        rates.append(calls / (time.perf_counter() - t0))
    return float(np.median(rates))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--record", default="")
    args = p.parse_args()
    started = header()
    overrides = {"batch_size": 256, "policy_hidden": "256,256", "value_hidden": "256,256", "model_hidden": "256,256"}
    run, _ = resolve({**overrides, "env": "HalfCheetah-v5"})
    agent = MEMB(run.agent, OBS, ACT)
    c, m = run.agent, run.agent.updates_per_step
    flops = update_flops(c, OBS, ACT)

    rng = np.random.default_rng(0)
    buf = ReplayBuffer(10_000, OBS, ACT)
    for _ in range(10_000):
        buf.add(rng.normal(size=OBS), rng.uniform(-1, 1, ACT), rng.normal(), rng.normal(size=OBS), False)
    state = agent.init(jax.random.PRNGKey(0))
    full = buf.sample(rng, agent.batches_per_step(c.model_warmup_steps), c.batch_size)
    rounds = jax.tree.map(lambda x: x[:m], full)

    def scanned(step):
        return jax.jit(lambda s, b: jax.lax.scan(step, s, b))

    def polyak(s, _):
        return s.replace(target_v=polyak_update(s.params["v"], s.target_v, c.tau)), {}

    pieces = {
        "model step": (scanned(agent.model_step), flops["model_step"]),
        "policy step": (scanned(agent.policy_step), flops["policy_step"]),
        "value step": (scanned(agent.value_step), flops["value_step"]),
        "Polyak": (scanned(polyak), 0),
        "round (model, policy, value, Polyak)": (scanned(agent.round), flops["round"]),
    }
    roofline = matmul_gflops(args.seconds)
    results = {}
    for name, (fn, f) in pieces.items():
        per_s = rate(fn, state, rounds, args.seconds) * m  # steps of this piece per second
        results[name] = {"per_s": per_s, "ms": 1e3 / per_s, "gflop": f / 1e9, "gflops": per_s * f / 1e9}
        print(name, results[name], flush=True)
    fused = rate(jax.jit(agent.update_fn), state, full, args.seconds)
    env_step_ms = 1e3 / fused
    results["fused update of one env step"] = {
        "per_s": fused,
        "ms": env_step_ms,
        "gflop": flops["env_step"] / 1e9,
        "gflops": fused * flops["env_step"] / 1e9,
    }
    lines = [
        f"- float32 256³ matmul chain in the same run: {roofline:.1f} GFLOP/s",
        "",
        "| piece | ms each | GFLOP each | GFLOP/s | of the roofline |",
        "|---|---|---|---|---|",
        *[
            f"| {n} | {r['ms']:.3f} | {r['gflop']:.3f} | {r['gflops']:.1f} | {r['gflops'] / roofline:.0%} |"
            for n, r in results.items()
        ],
        "",
        f"Sum of the pieces for one round: {sum(results[k]['ms'] for k in list(pieces)[:4]):.3f} ms; the round "
        f"jitted as one: {results['round (model, policy, value, Polyak)']['ms']:.3f} ms.",
    ]
    print("\n".join(lines))
    if args.record:
        record = {**started, "matmul_gflops": roofline, "pieces": results}
        title = "MEMB's update piece by piece (batch 256, every MLP (256, 256), m = 5)"
        write_record("performance", args.record, record, title, ["", *lines])


if __name__ == "__main__":
    main()
