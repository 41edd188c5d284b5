"""XLA's CPU back-end options against MEMB's update at batch 256, every MLP (256, 256), m = 5 (issue 7's shape).

Each candidate `XLA_FLAGS` runs in its own process (XLA reads the flags once), in turn, twice (A B A B ...), on an
otherwise idle machine; each measures the float32 256³ matmul chain and the fused update alone with throughput.py's
own functions, so that both the absolute rate and the roofline fraction under the same flags are recorded.

    python benchmarks/xla_flags.py [--seconds 3] [--record xla-flags-]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

CANDIDATES = {
    "default": "",
    "xnnpack": "--xla_cpu_use_xnnpack=true",
    "onednn": "--xla_cpu_use_onednn=true",
    "no-multi-thread-eigen": "--xla_cpu_multi_thread_eigen=false",
    "concurrency-scheduler": "--xla_cpu_enable_concurrency_optimized_scheduler=true",
    "fast-math": "--xla_cpu_enable_fast_math=true",
    # session 12, jaxlib 0.10.2, whose products already run in YNNPACK by default (`INDIVIDUAL_DOT`)
    "vec512": "--xla_cpu_prefer_vector_width=512",  # AVX-512 for XLA's own elementwise loops (default 256)
    "ynn-eltwise": "--xla_cpu_experimental_ynn_fusion_type=+eltwise",  # elementwise fusions to YNNPACK too
    "ynn-dot": "--xla_cpu_experimental_ynn_fusion_type=+dot",  # products fused with their neighbours in YNNPACK
    "ynn-off": "--xla_cpu_experimental_ynn_fusion_type=",  # an empty list: meant to turn YNNPACK off (unverified)
    "xnn-graph": "--xla_cpu_experimental_xnn_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY",
    "scheduler-concurrency": "--xla_cpu_scheduler_type=CPU_SCHEDULER_TYPE_CONCURRENCY_OPTIMIZED",
    "opt-fast-runtime": "--xla_cpu_opt_preset=CPU_OPT_PRESET_FAST_RUNTIME",
}


def child(seconds: float) -> None:
    from throughput import ACT, OBS, matmul_gflops, update_rate

    from memb.agents import MEMB
    from memb.agents.memb import update_flops
    from memb.experiments import resolve

    overrides = {"batch_size": 256, "policy_hidden": "256,256", "value_hidden": "256,256", "model_hidden": "256,256"}
    run, _ = resolve({**overrides, "env": "HalfCheetah-v5"})
    roofline = matmul_gflops(seconds)
    ups = update_rate(MEMB(run.agent, OBS, ACT), seconds)
    gflops = ups / run.agent.updates_per_step * update_flops(run.agent, OBS, ACT)["env_step"] / 1e9
    print(json.dumps({"matmul_gflops": roofline, "updates_per_s": ups, "gflops": gflops}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--only", default="", help="comma-separated candidate names (default: all)")
    p.add_argument("--record", default="")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args.seconds)
    from _record import header, write_record

    names = args.only.split(",") if args.only else list(CANDIDATES)
    results: dict[str, list[dict]] = {n: [] for n in names}
    started = header()
    for _ in range(args.repeats):
        for name in names:
            env = {**os.environ, "XLA_FLAGS": CANDIDATES[name]}
            cmd = [sys.executable, __file__, "--child", "--seconds", str(args.seconds)]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                results[name].append({"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"})
            else:
                results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(name, results[name][-1], flush=True)
    lines = [
        "",
        "| XLA_FLAGS | matmul GFLOP/s | update rounds/s | update GFLOP/s | fraction |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        for r in results[name]:
            if "error" in r:
                lines.append(f"| {name} `{CANDIDATES[name]}` | error: {r['error'][:80]} | | | |")
            else:
                lines.append(
                    f"| {name} `{CANDIDATES[name]}` | {r['matmul_gflops']:.1f} | {r['updates_per_s']:.1f} | "
                    f"{r['gflops']:.1f} | {r['gflops'] / r['matmul_gflops']:.0%} |"
                )
    print("\n".join(lines))
    if args.record:
        record = {**started, "candidates": CANDIDATES, "results": results}
        title = "XLA CPU options against MEMB's update (b256, h256, m5)"
        write_record("performance", args.record, record, title, lines)


if __name__ == "__main__":
    main()
