"""Where the suite's learning runs land against their checks, over several seeds.

Each test in the suite trains one run of `tests/learning_runs.py` with seed 0 and asserts its check. A run's path is
the same on one machine but differs between CPU kinds (XLA compiles for the CPU it runs on), so a check that seed 0
passes by a hair on one machine can fail on CI's. Other seeds stand in for that spread: this script trains each run
with each seed and records its evaluation returns and whether the check holds.

    python benchmarks/learning_test_margins.py --seeds 0-3 --jobs 2 --record margins-

A run takes 10 s to a minute here; --jobs N trains N at a time (the records' seconds are then not timings).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from _record import header, write_record  # noqa: E402
from learning_runs import LEARNING_RUNS  # noqa: E402


def one(name: str, seed: int) -> dict:
    run = LEARNING_RUNS[name]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        returns = run.returns(Path(tmp) / "run", seed)
    return {
        "run": name,
        "seed": seed,
        "returns": [round(r, 1) for r in returns],
        "passes": bool(run.check(returns)),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    from memb.config import ConfigError
    from memb.experiments.grid import parse_seeds

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default=",".join(LEARNING_RUNS), help="comma-separated names (default: all)")
    parser.add_argument("--seeds", default="0-3")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--record", default=None, help="write benchmarks/results/learning-tests/NAME<date>.json/.md")
    args = parser.parse_args()
    names = args.runs.split(",")
    unknown = [n for n in names if n not in LEARNING_RUNS]
    if unknown:
        parser.error(f"unknown run {unknown[0]!r}; choose from {', '.join(LEARNING_RUNS)}")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    try:
        seeds = parse_seeds(args.seeds)
    except ConfigError as e:
        parser.error(str(e))

    results = []
    ctx = multiprocessing.get_context("spawn")  # JAX is multithreaded: no fork
    with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
        futures = [pool.submit(one, n, s) for n in names for s in seeds]
        for f in concurrent.futures.as_completed(futures):
            results.append(f.result())
            print(results[-1], flush=True)
    results.sort(key=lambda r: (names.index(r["run"]), r["seed"]))

    lines = ["", f"{args.jobs} run(s) at a time; seeds {', '.join(map(str, seeds))}.", ""]
    lines += ["| run | check | seed | evaluation returns | passes |", "|---|---|---|---|---|"]
    for r in results:
        returns = ", ".join(f"{x:.0f}" for x in r["returns"])
        rule = LEARNING_RUNS[r["run"]].rule
        lines.append(f"| {r['run']} | {rule} | {r['seed']} | {returns} | {'yes' if r['passes'] else '**no**'} |")
    failing = [f"{r['run']} seed {r['seed']}" for r in results if not r["passes"]]
    lines += ["", f"Failing: {', '.join(failing) if failing else 'none'}."]
    print("\n".join(lines))
    if args.record is not None:
        record = {**header(), "seeds": list(seeds), "jobs": args.jobs, "results": results}
        write_record("learning-tests", args.record, record, "The suite's learning runs over seeds", lines)


if __name__ == "__main__":
    main()
