"""What m (`--updates-per-step`) costs a whole `memb train` run: wall-clock and final return, one fresh process each.

    python benchmarks/updates_per_step_cost.py                       # Pendulum-v1, 10k steps, m = 1 and 5
    python benchmarks/updates_per_step_cost.py --env Pendulum-v1 --steps 10000 --m 1,3,5

Each run is the `memb` command as a user types it (the paper's preset, m overridden), with the compilation cache
off so that every run compiles, and timed from process start to exit. Written to
benchmarks/results/performance/updates-per-step-cost-<date>.json and .md. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _record import header, write_record  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="Pendulum-v1")
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--m", default="1,5", help="comma-separated updates_per_step values")
    args = parser.parse_args()
    record = {**header(), "env": args.env, "steps": args.steps, "runs": []}
    memb = Path(sys.executable).with_name("memb")
    with tempfile.TemporaryDirectory() as tmp:
        for m in (int(v) for v in args.m.split(",")):
            out = Path(tmp) / f"m{m}"
            command = [str(memb), "train", "--env", args.env, "--steps", str(args.steps)]
            command += ["--updates-per-step", str(m), "--out", str(out), "--no-progress"]
            start = time.perf_counter()
            subprocess.run(command, check=True, env={**os.environ, "MEMB_COMPILATION_CACHE": "off"})
            seconds = time.perf_counter() - start
            last = pd.read_csv(out / "eval.csv").iloc[-1]
            run = {"m": m, "seconds": seconds, "step": int(last["step"]), "return": float(last["return_mean"])}
            record["runs"].append(run)
            print(f"m = {m}: {run['return']:.1f} at step {run['step']} in {seconds:.0f} s")
    lines = [
        f"- `memb train --env {args.env} --steps {args.steps} --updates-per-step M` in a fresh process each, "
        "the paper's preset otherwise, compilation cache off; wall-clock from process start to exit",
        "",
        "| m | return at the last evaluation | step | seconds |",
        "|---|---|---|---|",
        *(f"| {r['m']} | {r['return']:.1f} | {r['step']} | {r['seconds']:.0f} |" for r in record["runs"]),
    ]
    write_record("performance", "updates-per-step-cost-", record, f"What m costs a {args.env} run", lines)


if __name__ == "__main__":
    main()
