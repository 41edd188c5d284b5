"""Env steps and wall-clock each recorded run needed to reach return thresholds, read from the runs' own files.

    python benchmarks/to_threshold.py --env-label Hopper-v5 --thresholds 300,1000,2000,3000 \
        memb=benchmarks/results/hopper-300k/seed0 mbpo=benchmarks/results/baselines/mbpo-hopper/seed0 \
        [--record memb-vs-mbpo-hopper-]

For each run (LABEL=DIR) and threshold: the first evaluation (eval.csv, deterministic episodes after every epoch)
whose mean return reaches the threshold, and the training wall-clock up to it (metrics.csv's cumulative
`train_time`: acting, env steps, updates, model training and rollouts; evaluations excluded). Also each run's
seconds per 1,000 env steps after its warm-up (the random phase, and MEMB's model-only steps), and how far
it ran. This is how two agents whose runs take hours
(MBPO on Hopper costs ~10 minutes per 1,000 env steps here) are compared to a threshold: a side-by-side race would
take a whole session per threshold. The comparison is fair only for runs made in the same conditions; the record
copies each run's `train_time` as it is, so state those conditions (core pinning, what else ran) beside it.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _record import header, write_record  # noqa: E402


def read_csv(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def run_summary(run_dir: Path, thresholds: list[float]) -> dict:
    evals = read_csv(run_dir / "eval.csv")
    metrics = {int(r["step"]): r for r in read_csv(run_dir / "metrics.csv")}
    config = json.loads((run_dir / "config.json").read_text())
    # the full update starts after the random phase (and, for MEMB, its model-only warm-up)
    agent = config["agent"]
    warm = max(int(agent.get("random_steps", 0)), int(agent.get("model_warmup_steps", 0)))
    last = max(metrics)
    after = [s for s in sorted(metrics) if s >= warm]
    first = after[0] if after else last
    learning_s = float(metrics[last]["train_time"]) - float(metrics[first]["train_time"])
    out = {
        "dir": str(run_dir),
        "algo": config.get("algo"),
        "env": config["train"]["env"],
        "steps_run": last,
        "train_seconds": float(metrics[last]["train_time"]),
        "warm_up_steps": warm,
        "seconds_per_1000_after_warm_up": learning_s / (last - first) * 1000 if last > first else None,
        "best_return": max(float(r["return_mean"]) for r in evals),
        "thresholds": {},
    }
    for threshold in thresholds:
        hit = next((r for r in evals if float(r["return_mean"]) >= threshold), None)
        if hit is None:
            out["thresholds"][str(threshold)] = None
            continue
        step = int(hit["step"])
        out["thresholds"][str(threshold)] = {
            "step": step,
            "return": float(hit["return_mean"]),
            "train_seconds": float(metrics[step]["train_time"]),
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="LABEL=RUN_DIR")
    p.add_argument("--thresholds", required=True, help="comma-separated returns, e.g. 300,1000")
    p.add_argument("--env-label", default="", help="a name for the record's title")
    p.add_argument("--conditions", default="", help="how the runs were made (cores, what else ran), for the record")
    p.add_argument("--record", default="", help="write benchmarks/results/baselines/NAME<date>.json/.md")
    args = p.parse_args()
    try:
        thresholds = [float(x) for x in args.thresholds.split(",")]
        runs = dict(item.split("=", 1) for item in args.runs)
    except ValueError:
        p.error("runs are LABEL=RUN_DIR and --thresholds a comma-separated list of numbers")
    for label, d in runs.items():
        for name in ("eval.csv", "metrics.csv", "config.json"):
            if not (Path(d) / name).is_file():
                p.error(f"{label}: {d} has no {name}; give a run directory written by memb train")
    started = header()
    summaries = {label: run_summary(Path(d), thresholds) for label, d in runs.items()}
    lines = [f"- conditions: {args.conditions}" if args.conditions else "", ""]
    lines += [
        "| run | steps run | training wall-clock | s per 1,000 env steps after the warm-up | best return |",
        "|---|---|---|---|---|",
    ]
    for label, s in summaries.items():
        rate = s["seconds_per_1000_after_warm_up"]
        lines.append(
            f"| {label} (`{s['dir']}`) | {s['steps_run']} | {s['train_seconds'] / 3600:.2f} h | "
            f"{'—' if rate is None else f'{rate:.0f}'} | {s['best_return']:.0f} |"
        )
    lines += ["", "| threshold | " + " | ".join(summaries) + " |", "|---|" + "---|" * len(summaries)]
    for t in thresholds:
        cells = []
        for s in summaries.values():
            hit = s["thresholds"][str(t)]
            cells.append(
                f"not reached in {s['steps_run']} steps"
                if hit is None
                else f"{hit['step']} steps, {hit['train_seconds']:.0f} s ({hit['return']:.0f})"
            )
        lines.append(f"| {t:g} | " + " | ".join(cells) + " |")
    record = {**started, "conditions": args.conditions, "runs": summaries}
    title = f"Env steps and wall-clock to return thresholds{': ' + args.env_label if args.env_label else ''}"
    if args.record:
        write_record("baselines", args.record, record, title, lines)
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
