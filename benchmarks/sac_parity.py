"""Is memb's SAC the SAC everyone else runs? memb's SAC and Stable-Baselines3's SAC with the same settings, same task,
same seeds and same evaluation protocol, one after the other in one invocation.

    pip install torch==2.13.0 stable-baselines3   # benchmark-only (the CPU wheel; never a plain `torch`)
    python benchmarks/sac_parity.py --env InvertedPendulum-v5 --seeds 0,1 --steps 30000

The settings are memb's SAC preset (facts.md §6), given to both: batch 256, (256, 256) ReLU networks, Adam 3e-4,
replay 1e6, γ 0.99, τ 0.005, one gradient step per env step, automatic α from `--alpha` toward −dim(A), and
`--random-steps` uniformly random actions before learning (SB3's `learning_starts`). Both are evaluated every
`--eval-every` steps on `--eval-episodes` deterministic episodes of fresh envs seeded (seed, evaluation index). Learning
curves are what is compared, not speed (time_to_return.py and agent_speed.py measure speed). Written to
benchmarks/results/baselines/sac-parity-<date>.json and .md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from time_to_return import run_memb, run_sb3  # noqa: E402

from _record import header, write_record  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="InvertedPendulum-v5")
    parser.add_argument("--seeds", default="0,1", help="comma-separated")
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--random-steps", type=int, default=10_000)
    parser.add_argument("--alpha", type=float, default=0.2, help="the starting α of both")
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--sides", default="memb,sb3", help="memb, sb3 or both (one side: the other's run exists)")
    args = parser.parse_args()
    sides = args.sides.split(",")
    if not sides or not set(sides) <= {"memb", "sb3"}:
        parser.error(f"--sides takes memb, sb3 or both, comma-separated; got {args.sides!r}")
    started = header()
    seeds = [int(s) for s in args.seeds.split(",")]
    never = float("inf")  # no early stop: whole curves
    common = (args.steps, args.eval_every, args.eval_episodes)
    results: dict[str, list] = {"memb_sac": [], "sb3_sac": []}
    for seed in seeds:  # alternating, so that drifts of the machine hit both alike
        if "memb" in sides:
            r = run_memb(args.env, seed, never, *common, algo="sac", random_steps=args.random_steps, alpha=args.alpha)
            results["memb_sac"].append(r)
            print(f"{args.env} seed {seed} memb_sac: {[round(c[2]) for c in r['curve']]}", flush=True)
        if "sb3" in sides:
            alpha = f"auto_{args.alpha}"
            r = run_sb3(args.env, seed, never, *common, learning_starts=args.random_steps, ent_coef=alpha)
            results["sb3_sac"].append(r)
            print(f"{args.env} seed {seed} sb3_sac: {[round(c[2]) for c in r['curve']]}", flush=True)
    ran = next(r for r in results.values() if r)[0]["curve"]
    nan_run = {"curve": [(c[0], float("nan"), float("nan")) for c in ran]}
    for name in results:  # a side not run shows as nan
        results[name] = results[name] or [nan_run] * len(seeds)

    steps = [c[0] for c in results["memb_sac"][0]["curve"]]
    lines = [
        f"- task {args.env}, {args.steps} steps, {args.random_steps} random steps first, starting α {args.alpha}; "
        f"evaluation every {args.eval_every} steps, {args.eval_episodes} deterministic episodes",
        "",
        "Evaluation return, seed by seed (memb / SB3):",
        "",
        "| step | " + " | ".join(f"seed {s}" for s in seeds) + " | mean memb | mean SB3 |",
        "|---|" + "---|" * (len(seeds) + 2),
    ]
    for i, step in enumerate(steps):
        if step <= args.random_steps:
            continue
        memb = [r["curve"][i][2] for r in results["memb_sac"]]
        sb3 = [r["curve"][i][2] for r in results["sb3_sac"]]
        cells = " | ".join(f"{m:.0f} / {s:.0f}" for m, s in zip(memb, sb3, strict=True))
        lines.append(f"| {step} | {cells} | {np.mean(memb):.0f} | {np.mean(sb3):.0f} |")
    record = {**started, "args": vars(args), "results": results}
    write_record("baselines", "sac-parity-", record, "memb SAC against Stable-Baselines3 SAC, same settings", lines)


if __name__ == "__main__":
    main()
