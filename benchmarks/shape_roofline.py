"""The roofline of MEMB's own matrix shapes: how fast XLA runs each product of the update, alone, on this machine.

    python benchmarks/shape_roofline.py            # batch 256, every MLP (256, 256), HalfCheetah-v5 shapes
    python benchmarks/shape_roofline.py --batch 100 --model-hidden 256,128

Issue 7 measures the update against a chain of 256 x 256 x 256 products. The update's products are not all that
shape: its first layers take 17 or 23 inputs and its heads give 1 to 34 outputs. This script times every layer of
every network of one round on its own, as jitted chains of the three products a layer's training runs (forward
x @ W, input gradient dy @ W^T, weight gradient x^T @ dy), and weighs each layer by how often a round runs it (the
counts of `memb.agents.memb.update_flops`). The result is the rate the update could reach if it were nothing but its
matrix products, each at XLA's own speed for its shape: an upper bound of the fraction of the 256^3 rate that the
fused update can reach. Run it on an otherwise idle machine.
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
from throughput import matmul_gflops  # noqa: E402

from memb.agents import MEMBConfig  # noqa: E402
from memb.agents.memb import dense_flops, update_flops  # noqa: E402
from memb.config import to_dict  # noqa: E402

from _record import header, write_record  # noqa: E402

OBS, ACT = 17, 6  # HalfCheetah-v5


def networks(c: MEMBConfig, obs: int, act: int) -> dict[str, tuple[list[int], int]]:
    """Each network's layer widths and how many forward-pass equivalents of it one round runs (update_flops)."""
    k, sa = c.rollout_length, obs + act
    model = (3 if c.model_update_in_rounds else 0) + 2 * k
    return {
        "policy": ([obs, *c.policy_hidden, 2 * act], 3 * k + 1),
        "dynamics": ([sa, *c.model_hidden, 2 * obs], model),
        "reward": ([sa, *c.model_hidden, 2], model),
        "q1 and q2": ([sa, *c.value_hidden, 1], 8),  # both Q networks together
        "v": ([obs, *c.value_hidden, 1], 6),
    }


def chain_seconds(fn, x, length: int = 64, seconds: float = 1.0) -> float:
    """Seconds per link of a jitted chain of `length` links of fn (the median of three timings)."""
    run = jax.jit(lambda y: jax.lax.fori_loop(0, length, lambda i, z: fn(z), y))
    y = jax.block_until_ready(run(x))
    times = []
    for _ in range(3):
        calls, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            y = run(y)
            calls += 1
        jax.block_until_ready(y)
        times.append((time.perf_counter() - t0) / (calls * length))
    return float(np.median(times))


def layer_seconds(b: int, i: int, o: int) -> float:
    """Seconds of one training pass of a dense layer b x i -> o: forward, input gradient and weight gradient."""
    key = jax.random.PRNGKey(0)
    w = jax.random.normal(key, (i, o), jnp.float32) / np.sqrt(max(i, o))
    x0 = jax.random.normal(key, (b, i), jnp.float32)
    forward_and_input_grad = chain_seconds(lambda x: jnp.tanh((x @ w) @ w.T), x0)
    forward_and_weight_grad = chain_seconds(lambda g: jnp.tanh(x0.T @ (x0 @ g)) / b, w)
    # t(forward) ~ t(input gradient): both are b x (i, o) products, one transposed
    return forward_and_input_grad / 2 + forward_and_weight_grad


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--hidden", default="256,256", help="policy and value MLPs")
    p.add_argument("--model-hidden", default="256,256")
    p.add_argument("--rollout-length", type=int, default=1)
    args = p.parse_args()
    started = header()
    hidden = tuple(int(h) for h in args.hidden.split(","))
    config = MEMBConfig(
        batch_size=args.batch,
        policy_hidden=hidden,
        value_hidden=hidden,
        model_hidden=tuple(int(h) for h in args.model_hidden.split(",")),
        rollout_length=args.rollout_length,
    )
    nets = networks(config, OBS, ACT)
    counted = sum(n * dense_flops(args.batch, d) for d, n in nets.values())
    assert counted == update_flops(config, OBS, ACT)["round"], "the layer counts no longer match update_flops"

    roofline = matmul_gflops(2.0)
    rows, flops, seconds = [], 0.0, 0.0
    timed: dict[tuple[int, int], float] = {}
    for name, (dims, count) in nets.items():
        for i, o in zip(dims[:-1], dims[1:], strict=True):
            if (i, o) not in timed:
                timed[(i, o)] = layer_seconds(args.batch, i, o)
            f = 3 * 2 * args.batch * i * o  # one training pass: three products
            rate = f / timed[(i, o)] / 1e9
            rows.append({"network": name, "layer": f"{i} -> {o}", "runs_per_round": count / 3,
                         "gflops": rate, "fraction": rate / roofline})  # fmt: skip
            flops += count * f / 3
            seconds += count * timed[(i, o)] / 3
    bound = flops / seconds / 1e9
    print(f"256^3 chain {roofline:.1f} GFLOP/s; the update's own shapes at best {bound:.1f} ({bound / roofline:.0%})")
    record = {**started, "batch": args.batch, "config": to_dict(config),
              "roofline_gflops": roofline, "shape_bound_gflops": bound, "layers": rows}  # fmt: skip
    lines = [
        f"- batch {args.batch}; policy and value MLPs {hidden}; models {config.model_hidden}; k = "
        f"{config.rollout_length}; HalfCheetah-v5 shapes (17 observations, 6 actions)",
        f"- the 256^3 float32 chain (the issue's roofline): **{roofline:.1f} GFLOP/s**",
        f"- every product of a round at XLA's own rate for its shape, weighted by FLOPs: **{bound:.1f} GFLOP/s = "
        f"{bound / roofline:.0%} of the 256^3 chain**, the most the fused update could reach",
        "",
        "| network | layer | training passes per round | GFLOP/s alone | of the 256^3 rate |",
        "|---|---|---|---|---|",
        *[
            f"| {r['network']} | {r['layer']} | {r['runs_per_round']:.2f} | {r['gflops']:.1f} | {r['fraction']:.0%} |"
            for r in rows
        ],
    ]
    write_record("performance", "shape-roofline-", record, "The roofline of MEMB's own matrix shapes", lines)


if __name__ == "__main__":
    main()
