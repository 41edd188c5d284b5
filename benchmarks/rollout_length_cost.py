"""What k = `rollout_length` costs: MEMB's fused per-env-step update at the HalfCheetah preset for several k.

    python benchmarks/rollout_length_cost.py              # k = 1, 2, 3
    python benchmarks/rollout_length_cost.py --k 1,3 --set alpha=0.2

For each k: the update alone (one jitted call per env step: m rounds and the model step, on replay batches, as
throughput.py's `update_rate`), in milliseconds per env step, and its matmul FLOPs counted from the shapes
(`update_flops`), so that the measured cost ratio can be set against the FLOP ratio. The settings alternate over
`--repeats` passes so that drifts of the machine hit all alike. Written to benchmarks/results/performance/
rollout-length-cost-<date>.json and .md. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from throughput import ACT, OBS, update_rate  # noqa: E402

from memb.agents import MEMB  # noqa: E402
from memb.agents.memb import update_flops  # noqa: E402
from memb.config import ConfigError  # noqa: E402
from memb.experiments import resolve  # noqa: E402

from _record import header, write_record  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--k", default="1,2,3", help="comma-separated rollout lengths")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override the preset (repeatable)")
    p.add_argument("--seconds", type=float, default=4.0, help="timing window of one measurement")
    p.add_argument("--repeats", type=int, default=3, help="alternating passes over the k values")
    args = p.parse_args()
    if any("=" not in kv for kv in args.set):
        raise SystemExit(f"--set takes KEY=VALUE, got {args.set}")
    try:
        ks = [int(k) for k in args.k.split(",")]
    except ValueError:
        raise SystemExit(f"--k takes comma-separated integers, got {args.k!r}") from None
    over = dict(kv.split("=", 1) for kv in args.set)
    if {"env", "rollout_length"} & set(over):
        raise SystemExit("--set cannot change env or rollout_length: the script sets them (use --k)")
    started = header()
    agents, flops = {}, {}
    for k in ks:
        try:
            run, _ = resolve({**over, "env": "HalfCheetah-v5", "rollout_length": k})
        except ConfigError as e:
            raise SystemExit(f"rollout_length_cost.py: {e}") from None
        agents[k] = MEMB(run.agent, OBS, ACT)
        flops[k] = update_flops(agents[k].config, OBS, ACT)["env_step"]
    rounds = {k: [] for k in ks}
    for _ in range(args.repeats):
        for k in ks:  # update_rate: rounds/s, median of its own 3 windows
            rounds[k].append(update_rate(agents[k], args.seconds / 3))
    m = agents[ks[0]].config.updates_per_step
    ms = {k: 1000.0 * m / float(np.median(rounds[k])) for k in ks}
    record = {
        **started,
        "overrides": over,
        "updates_per_step": m,
        "rounds_per_s": rounds,
        "ms_per_env_step": ms,
        "env_step_gflop": {k: flops[k] / 1e9 for k in ks},
    }
    base = ks[0]
    lines = [
        f"- MEMB's HalfCheetah-v5 preset{(' with ' + ', '.join(f'{a}={b}' for a, b in over.items())) if over else ''}; "
        f"the fused update of one env step (m = {m} rounds and the model step), replay sampling included",
        f"- {args.repeats} alternating passes; each figure the median over passes of a median of 3 windows",
        "",
        f"| k | ms per env step | GFLOP per env step | GFLOP/s | cost against k = {base} | FLOPs against k = {base} |",
        "|---|---|---|---|---|---|",
    ]
    for k in ks:
        lines.append(
            f"| {k} | {ms[k]:.2f} | {flops[k] / 1e9:.3f} | {flops[k] / 1e9 / (ms[k] / 1000):.1f} | "
            f"{ms[k] / ms[base]:.2f} | {flops[k] / flops[base]:.2f} |"
        )
    write_record("performance", "rollout-length-cost-", record, "What the rollout length k costs per env step", lines)


if __name__ == "__main__":
    main()
