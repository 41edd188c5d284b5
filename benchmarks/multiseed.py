"""Five seeds in one process (`memb train --seeds`) against five sequential single-seed runs, in one invocation.

    python benchmarks/multiseed.py   # writes benchmarks/results/performance/multiseed-<date>.json and .md
    python benchmarks/multiseed.py --batch 100 --steps 2500

For each batch size, the same MEMB config (HalfCheetah-v5 shapes by default, the paper preset with the batch replaced)
is trained for `--steps` env steps: once per seed as separate runs one after the other, then all seeds in one
lockstep process. Throughput is env steps per second of training time summed over the seeds, taken from each run's
metrics.csv after the warm-up epochs (compilation and the random phase excluded), so evaluation time is left out of
both sides alike. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from memb.experiments import resolve  # noqa: E402
from memb.training import train  # noqa: E402
from memb.training.multiseed import train_seeds  # noqa: E402

from _record import header, write_record  # noqa: E402


def measured_rate(run_dir: Path, skip_epochs: int, epoch: int) -> float:
    """Env steps per second of training time over the epochs after the first `skip_epochs`."""
    rates = pd.read_csv(run_dir / "metrics.csv")["env_steps_per_s"].to_numpy()[skip_epochs:]
    if len(rates) < 1:
        raise SystemExit("--steps too small: no epoch is left after the warm-up; raise --steps")
    return float(len(rates) * epoch / (epoch / rates).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batch", default="100,256", help="batch sizes, comma-separated")
    parser.add_argument("--steps", type=int, default=2500, help="env steps per run")
    parser.add_argument("--epoch", type=int, default=500, help="steps per epoch (rates are per epoch)")
    args = parser.parse_args()
    started = header()
    warm = 1000  # random steps and model-only warm-up, both 500, then compile: the first two epochs are dropped
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
            "checkpoint_every": 0,
        }
        run, _ = resolve(over)
        skip = warm // args.epoch
        with tempfile.TemporaryDirectory() as tmp:
            single = []
            for seed in seeds:
                config = dataclasses.replace(run, train=dataclasses.replace(run.train, seed=seed))
                train(config, Path(tmp) / f"single{seed}", progress=False, tensorboard=False)
                single.append(measured_rate(Path(tmp) / f"single{seed}", skip, args.epoch))
            outs = [Path(tmp) / f"multi{seed}" for seed in seeds]
            train_seeds(run, seeds, outs, progress=False, tensorboard=False)
            multi_per_seed = measured_rate(outs[0], skip, args.epoch)  # lockstep: every seed advances at this rate
        sequential = 1.0 / sum(1.0 / r for r in single) * len(seeds)  # total steps / total time, one after another
        total = multi_per_seed * len(seeds)
        rows[batch] = {
            "single_env_steps_per_s": single,
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
        f"- {args.steps} env steps per run; rates from metrics.csv after the first {warm} steps",
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
