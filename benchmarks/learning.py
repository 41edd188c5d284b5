"""Sample efficiency over seeds: train one task for several seeds and record when each reaches a threshold.

    python benchmarks/learning.py --name pendulum --env Pendulum-v1 --seeds 0-4 --steps 5000 \
        --threshold -200 --by 5000
    python benchmarks/learning.py --name inverted-pendulum --env InvertedPendulum-v5 --seeds 0-4 --steps 20000 \
        --threshold 1000 --by 10000 --hold

Writes benchmarks/results/NAME/seedK/ (the run directories) and benchmarks/results/NAME/result.json and .md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from memb.experiments import resolve  # noqa: E402
from memb.training import train  # noqa: E402
from memb.training.io import write_bytes_atomic, write_json_atomic  # noqa: E402

from _record import describe, header  # noqa: E402


def seeds_arg(text: str) -> list[int]:
    if "-" in text:
        lo, hi = map(int, text.split("-"))
        return list(range(lo, hi + 1))
    return [int(s) for s in text.split(",")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True)
    p.add_argument("--env", required=True)
    p.add_argument("--seeds", type=seeds_arg, default=[0, 1, 2, 3, 4])
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--threshold", type=float, required=True)
    p.add_argument("--by", type=int, required=True, help="the step budget to reach the threshold in")
    p.add_argument(
        "--hold", action="store_true", help="require every evaluation from some step <= BY on to be >= threshold"
    )
    p.add_argument("--need", type=int, default=4, help="seeds that must succeed")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    args = p.parse_args()
    started = header()  # the commit and date the run started from

    root = Path(__file__).parent / "results" / args.name
    root.mkdir(parents=True, exist_ok=True)
    overrides = dict(kv.split("=", 1) for kv in args.set)
    per_seed = []
    for seed in args.seeds:
        run, _ = resolve({**overrides, "env": args.env, "seed": seed, "steps": args.steps})
        result = train(run, root / f"seed{seed}", overwrite=True, progress=False)
        curve = [(r["step"], r["return_mean"]) for r in result.eval_rows]
        reached = next((s for s, ret in curve if ret >= args.threshold), None)
        # the first evaluation from which every later one stays at or above the threshold
        stable = next((s for i, (s, _) in enumerate(curve) if all(r >= args.threshold for _, r in curve[i:])), None)
        ok = (stable is not None and stable <= args.by) if args.hold else (reached is not None and reached <= args.by)
        per_seed.append(
            {
                "seed": seed,
                "first_step_at_threshold": reached,
                "held_from": stable,
                "success": ok,
                "final_return": curve[-1][1],
                "curve": curve,
                "wall_time_s": result.metric_rows[-1]["train_time"] + sum(m["eval_time"] for m in result.metric_rows),
            }
        )
        print(
            f"seed {seed}: reached {args.threshold} at {reached}, held from {stable}, final {curve[-1][1]:.1f}",
            flush=True,
        )
    successes = sum(s["success"] for s in per_seed)
    record = {
        **started,
        "env": args.env,
        "config": run.to_dict() | {"train": run.to_dict()["train"] | {"seed": "per seed"}},
        "criterion": f"eval return >= {args.threshold} by {args.by} steps"
        + (" and held for the rest of the run" if args.hold else "")
        + f" in >= {args.need} of {len(args.seeds)} seeds",
        "successes": successes,
        "passed": successes >= args.need,
        "seeds": per_seed,
    }
    write_json_atomic(root / "result.json", record)
    lines = [
        f"# {args.name}: {record['criterion']}",
        "",
        f"**{'PASSED' if record['passed'] else 'FAILED'}**: {successes} of {len(args.seeds)} seeds.",
        "",
        f"- command: `{record['command']}`",
        f"- commit: {record['commit']}",
        f"- date: {record['date']}",
        f"- machine: {describe(record['machine'])}, jax {record['machine']['jax']}",
        "",
        "| seed | first step at threshold | held from step | final return | wall time (s) |",
        "|---|---|---|---|---|",
        *[
            f"| {s['seed']} | {s['first_step_at_threshold']} | {s['held_from']} | {s['final_return']:.1f} | "
            f"{s['wall_time_s']:.0f} |"
            for s in per_seed
        ],
        "",
        "Evaluation returns (mean of the deterministic episodes) per epoch:",
        "",
        "| step | " + " | ".join(f"seed {s['seed']}" for s in per_seed) + " |",
        "|---" * (len(per_seed) + 1) + "|",
        *[
            f"| {step} | " + " | ".join(f"{s['curve'][i][1]:.1f}" for s in per_seed) + " |"
            for i, (step, _) in enumerate(per_seed[0]["curve"])
        ],
    ]
    write_bytes_atomic(root / "result.md", ("\n".join(lines) + "\n").encode())
    print(f"{'PASSED' if record['passed'] else 'FAILED'}: {successes}/{len(args.seeds)}; {root / 'result.md'}")


if __name__ == "__main__":
    main()
