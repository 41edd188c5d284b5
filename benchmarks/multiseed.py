"""Five seeds in one process (`memb train --seeds`) against five sequential single-seed runs, in one invocation.

    python benchmarks/multiseed.py   # writes benchmarks/results/performance/multiseed-<date>.json and .md
    python benchmarks/multiseed.py --batch 100 --steps 2500

For each batch size, the same MEMB config (HalfCheetah-v5 shapes by default, the paper preset with the batch replaced)
is trained for `--steps` env steps: once per seed as separate runs one after the other, then all seeds in one
process (`train_seeds`: one group of seeds per core, the groups in threads). Throughput is the env steps of all seeds
over the wall-clock of the whole thing, compilation, random phase and evaluations included on both sides alike: what
five seeds cost. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from memb.experiments import resolve  # noqa: E402
from memb.training import train  # noqa: E402
from memb.training.multiseed import train_seeds  # noqa: E402

from _record import header, write_record  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batch", default="100,256", help="batch sizes, comma-separated")
    parser.add_argument("--steps", type=int, default=2500, help="env steps per run")
    parser.add_argument("--epoch", type=int, default=500, help="steps per epoch (an evaluation after each)")
    args = parser.parse_args()
    started = header()
    seeds = list(range(args.seeds))
    rows = {}
    for batch in (int(b) for b in args.batch.split(",")):
        over = {
            "env": args.env,
            "steps": args.steps,
            "epoch_length": args.epoch,
            "eval_episodes": 1,
            "batch_size": batch,
            "random_steps": 500,
            "model_warmup_steps": 500,
            "unroll_rounds_after": 0,  # the unrolled update from the warm-up's end, as a long run's later steps
            "checkpoint_every": 0,
        }
        run, _ = resolve(over)
        with tempfile.TemporaryDirectory() as tmp:
            single = []
            for seed in seeds:
                config = dataclasses.replace(run, train=dataclasses.replace(run.train, seed=seed))
                t0 = time.perf_counter()
                train(config, Path(tmp) / f"single{seed}", progress=False, tensorboard=False)
                single.append(time.perf_counter() - t0)
            outs = [Path(tmp) / f"multi{seed}" for seed in seeds]
            t0 = time.perf_counter()
            train_seeds(run, seeds, outs, progress=False, tensorboard=False)
            multi = time.perf_counter() - t0
        sequential = len(seeds) * args.steps / sum(single)
        total = len(seeds) * args.steps / multi
        rows[batch] = {
            "single_run_seconds": single,
            "multiseed_seconds": multi,
            "sequential_total_env_steps_per_s": sequential,
            "multiseed_total_env_steps_per_s": total,
            "speedup": total / sequential,
        }
        print(
            f"batch {batch}: sequential {sequential:.1f} steps/s, {len(seeds)} seeds in one process "
            f"{total:.1f} steps/s, x{total / sequential:.2f}",
            flush=True,
        )
    record = {**started, "env": args.env, "seeds": len(seeds), "steps": args.steps, "results": rows}
    lines = [
        f"- {args.steps} env steps per run ({args.epoch} per epoch, one evaluation episode each); env steps of all "
        "seeds per second of wall-clock, compilation, random phase and evaluations included",
        "",
        "| batch | sequential runs (env steps/s, all seeds) | one process (env steps/s, all seeds) | speed-up |",
        "|---|---|---|---|",
        *[
            f"| {b} | {r['sequential_total_env_steps_per_s']:.1f} | {r['multiseed_total_env_steps_per_s']:.1f} | "
            f"{r['speedup']:.2f}x |"
            for b, r in rows.items()
        ],
    ]
    write_record(
        "performance",
        "multiseed-",
        record,
        f"{len(seeds)} seeds in one process against {len(seeds)} sequential runs (MEMB, {args.env} preset)",
        lines,
    )


if __name__ == "__main__":
    main()
