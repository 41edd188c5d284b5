"""Where a MEMB round's time goes on XLA's CPU backend, kernel by kernel, from a profile.

    python benchmarks/kernel_count.py [--calls 20] [--record kernel-profile-]   # idle machine; about a minute

The roofline goal (issue 7) leaves about 10% of a round for everything but the matrix products. XLA:CPU runs a
compiled program as a sequence of kernels (thunks: fused loops, products, copies, loops), several at a time on its
worker threads (two here). This script
  1. counts, in the optimized HLO of MEMB's fused per-env-step update (batch 256, every MLP (256, 256), m = 5,
     HalfCheetah-v5 shapes), the kernels of the computation entered once per call, by kind;
  2. profiles `--calls` calls of that update and of the 256^3 float32 chain (the roofline) with `jax.profiler`, and
     sums, from the trace's per-kernel events on the worker threads, how many kernels of each kind ran per call and
     the thread-time they took: products (`dot`, and YNNPACK's fused products), elementwise fusions, copies, the
     bodies of `while` loops run inside a round (JAX lowers each threefry hash on the CPU as a loop of 5 trips), and
     the rest;
  3. sets the update's products beside the chain's: thread-milliseconds per GFLOP of counted matmul FLOPs in each.
If the update's products cost what the chain's do per FLOP, the gap to the roofline is the thread-time of the other
kernels plus the time a worker waits for another, and the record says how large each part is. The profiler's own
cost per event lengthens small kernels more than large ones, so shares of the non-product kernels are upper bounds;
the unprofiled time per call is measured beside them.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from throughput import ACT, OBS, SETTINGS, random_buffer  # noqa: E402

from memb.agents import MEMB  # noqa: E402
from memb.agents.memb import update_flops  # noqa: E402
from memb.experiments import resolve  # noqa: E402

from _record import header, write_record  # noqa: E402

HLO_KINDS = ("fusion", "dot", "copy", "custom-call", "sort", "while", "conditional", "call")
# trace events that are not kernels: the executor, the thread pool's bookkeeping, a kernel's end marker
NOT_KERNELS = ("ThunkExecutor", "ThreadpoolListener", "SlinkyThreadPool", "end:", "while", "conditional", "call")
CHAIN_N, CHAIN_LEN = 256, 64


def hlo_entry_kernels(hlo: str) -> dict:
    """Kernels of the ENTRY computation of an optimized HLO text, by kind (a `while` counts once, not its body)."""
    entry = hlo[hlo.index("ENTRY") :]
    entry = entry[: entry.index("\n}")]
    ops = re.findall(r"=\s*\S+\s+([a-z][\w-]*)\(", entry)
    return dict(collections.Counter(op for op in ops if op in HLO_KINDS))


def kind(name: str) -> str:
    if name.startswith(("dot", "ynn_fusion")):
        return "product"
    if name.startswith("copy"):
        return "copy"
    if "fusion" in name:
        return "elementwise fusion"
    return "other"


def profile(fn, calls: int) -> dict:
    """Kernels per call of `fn()` from a jax.profiler trace: counts and thread-ms by kind, and the wall per call."""
    with tempfile.TemporaryDirectory() as log_dir:
        jax.profiler.start_trace(log_dir, create_perfetto_trace=True)
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        wall = (time.perf_counter() - t0) / calls
        jax.profiler.stop_trace()
        (path,) = glob.glob(f"{log_dir}/**/*.trace.json.gz", recursive=True)
        events = json.load(gzip.open(path))["traceEvents"]
    names = {
        (e["pid"], e["tid"]): e["args"]["name"] for e in events if e.get("ph") == "M" and e["name"] == "thread_name"
    }
    count, ms = collections.Counter(), collections.Counter()
    loop_ms = loop_trips = 0.0
    per_thread = collections.Counter()
    for e in events:
        thread = names.get((e.get("pid"), e.get("tid")), "")
        if e.get("ph") != "X" or "Eigen" not in thread:
            continue
        if e["name"].startswith("while"):
            loop_ms += e["dur"] / 1e3
            loop_trips += 1
        if e["name"].startswith(NOT_KERNELS):
            continue
        k = kind(e["name"])
        count[k] += 1
        ms[k] += e["dur"] / 1e3
        per_thread[thread] += e["dur"] / 1e3
    return {
        "wall_ms_profiled": 1e3 * wall,
        "kernels": {k: count[k] / calls for k in count},
        "thread_ms": {k: ms[k] / calls for k in ms},
        "loops_per_call": loop_trips / calls,
        "loop_ms": loop_ms / calls,
        "threads": len(per_thread),
    }


def wall_ms(fn, seconds: float) -> float:
    """Median over three windows of the wall-clock ms per call of `fn()` (which waits for its result)."""
    out = []
    for _ in range(3):
        calls, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            fn()
            calls += 1
        out.append(1e3 * (time.perf_counter() - t0) / calls)
    return float(np.median(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=20, help="profiled calls of each program")
    p.add_argument("--seconds", type=float, default=2.0, help="each unprofiled timing window")
    p.add_argument("--record", default=None, help="write benchmarks/results/performance/NAME<date>.json and .md")
    args = p.parse_args()
    started = header()

    run, _ = resolve({**SETTINGS["batch256-all256"], "env": "HalfCheetah-v5"})
    agent = MEMB(run.agent, OBS, ACT)
    rng = np.random.default_rng(0)
    buf = random_buffer(rng, size=2000)
    step = agent.config.model_warmup_steps  # past the warm-up: the full update
    batch = buf.sample(rng, agent.batches_per_step(step), agent.config.batch_size)
    state = agent.init(jax.random.PRNGKey(0))
    hlo = hlo_entry_kernels(agent._update.lower(state, batch).compile().as_text())
    m = agent.config.updates_per_step
    gflop_call = update_flops(run.agent, OBS, ACT)["env_step"] / 1e9

    a = jax.random.normal(jax.random.PRNGKey(0), (CHAIN_N, CHAIN_N), jnp.float32) / 16.0
    chain = jax.jit(lambda x: jax.lax.fori_loop(0, CHAIN_LEN, lambda i, y: jnp.tanh(y @ a), x))
    gflop_chain = CHAIN_LEN * 2 * CHAIN_N**3 / 1e9
    box = {"state": state, "x": a}

    def update():
        box["state"] = jax.block_until_ready(agent._update(box["state"], batch)[0])

    def chain_call():
        box["x"] = jax.block_until_ready(chain(box["x"]))

    for fn in (update, chain_call, update, chain_call):  # compile and warm both
        fn()
    chain_ms = [wall_ms(chain_call, args.seconds)]
    update_ms = wall_ms(update, args.seconds)
    chain_ms.append(wall_ms(chain_call, args.seconds))
    prof_u = profile(update, args.calls)
    prof_c = profile(chain_call, args.calls)

    roofline = gflop_chain / (min(chain_ms) / 1e3)
    per_gflop_update = prof_u["thread_ms"].get("product", 0.0) / gflop_call
    per_gflop_chain = prof_c["thread_ms"].get("product", 0.0) / gflop_chain
    threads = prof_u["threads"]
    products_wall = prof_u["thread_ms"].get("product", 0.0) / threads  # if the products filled every worker
    others = {k: v for k, v in prof_u["thread_ms"].items() if k != "product"}
    record = {
        **started,
        "shape": "batch 256, every MLP (256, 256), m = 5, HalfCheetah-v5",
        "gflop_per_call": gflop_call,
        "hlo_entry_kernels": hlo,
        "chain_ms": chain_ms,
        "roofline_gflops": roofline,
        "update_ms": update_ms,
        "fraction": gflop_call / (update_ms / 1e3) / roofline,
        "profile_update": prof_u,
        "profile_chain": prof_c,
        "product_thread_ms_per_gflop": {"update": per_gflop_update, "chain": per_gflop_chain},
    }
    print(json.dumps(record, indent=1, default=str))
    k, t = prof_u["kernels"], prof_u["thread_ms"]
    order = ["product", "elementwise fusion", "copy", "other"]
    lines = [
        f"- {record['shape']}: {gflop_call:.2f} GFLOP of counted matmuls per call ({m} rounds, one env step)",
        f"- the 256^3 float32 chain ({gflop_chain:.2f} GFLOP a call) before and after the update's timing: "
        f"{chain_ms[0]:.1f} and {chain_ms[1]:.1f} ms a call; roofline {roofline:.1f} GFLOP/s (the faster)",
        f"- the update unprofiled: {update_ms:.1f} ms a call, **{100 * record['fraction']:.0f}%** of that roofline; "
        f"profiled: {prof_u['wall_ms_profiled']:.1f} ms a call",
        f"- kernels in the HLO's entry computation (a loop counted once): {hlo}",
        "",
        f"Per call of the update, from the profile ({args.calls} calls, {threads} worker threads):",
        "",
        "| kernels | per call | thread-ms per call | µs each |",
        "|---|---|---|---|",
        *[
            f"| {x} | {k.get(x, 0):.0f} | {t.get(x, 0):.2f} | {1e3 * t.get(x, 0) / max(k.get(x, 0), 1):.1f} |"
            for x in order
        ],
        f"| (inside `while` loops run per call: {prof_u['loops_per_call']:.0f} loops) | | {prof_u['loop_ms']:.2f} | |",
        "",
        f"- products per GFLOP: {per_gflop_update:.2f} thread-ms in the update against {per_gflop_chain:.2f} in the "
        f"chain ({prof_c['kernels'].get('product', 0):.0f} product kernels a chain call)",
        f"- the update's products, spread over its {threads} workers, take {products_wall:.1f} ms of the "
        f"{prof_u['wall_ms_profiled']:.1f} ms profiled call; its other kernels "
        f"{sum(others.values()):.1f} thread-ms; {threads * prof_u['wall_ms_profiled'] - sum(t.values()):.1f} "
        "thread-ms of the call's worker time ran no kernel (waiting for the other worker, the executor's "
        "bookkeeping, the profiler)",
    ]
    print("\n".join(lines))
    if args.record:
        write_record("performance", args.record, record, "Where a MEMB round's time goes, kernel by kernel", lines)


if __name__ == "__main__":
    main()
