"""Training speed of agents side by side, in one invocation: memb's SAC against Stable-Baselines3's SAC on
HalfCheetah-v5, and MEMB against MBPO on Hopper-v5 (wall-clock per 1,000 env steps).

    pip install -e '.[bench]'                      # torch 2.13.0 (CPU) and stable-baselines3, benchmark-only
    python benchmarks/agent_speed.py               # writes benchmarks/results/baselines/speed-<date>.json and .md
    python benchmarks/agent_speed.py --steps 3000 --skip-mbpo

SAC on both sides: batch 256, (256, 256) networks, one gradient step per env step, learning from step 1,000; the rate
is taken over the steps after `--warm` (compilation and start-up excluded on both sides), without evaluations.
MEMB and MBPO: each with its own preset for the task, 1,000 random steps (and MEMB's model-only warm-up cut to
those 1,000 steps, so that it does its full update from then on), then seconds per 1,000 env steps over
`--steps` more (MBPO's rate includes its model training and rollouts every 250 steps, MEMB's its model steps).
Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from memb.experiments import resolve  # noqa: E402
from memb.training import train  # noqa: E402

from _record import header, write_record  # noqa: E402


def memb_rate(algo: str, env: str, steps: int, warm: int, overrides: dict) -> float:
    """Env steps/s of memb's trainer over the epochs after `warm` steps (evaluation excluded by metrics.csv)."""
    epoch = 500
    over = {
        "env": env,
        "steps": warm + steps,
        "epoch_length": epoch,
        "eval_episodes": 1,
        "checkpoint_every": 0,
        "random_steps": 1000,
        **overrides,
    }
    run, _ = resolve(over, algo=algo)
    with tempfile.TemporaryDirectory() as tmp:
        train(run, Path(tmp) / "r", progress=False, tensorboard=False)
        rates = pd.read_csv(Path(tmp) / "r" / "metrics.csv")["env_steps_per_s"].to_numpy()[warm // epoch :]
    return float(len(rates) * epoch / (epoch / rates).sum())


def sb3_sac(env: gym.Env, lib: str = "sb3"):
    """Stable-Baselines3's SAC (lib "sb3", PyTorch) or SBX's (lib "sbx", the same API on JAX: `pip install sbx-rl`)
    with memb SAC's settings here: batch 256, (256, 256), one gradient step per env step from step 1,000, on every
    core this process may use."""
    import torch

    if lib == "sbx":
        from sbx import SAC
    else:
        from stable_baselines3 import SAC

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    return SAC(
        "MlpPolicy",
        env,
        batch_size=256,
        policy_kwargs={"net_arch": [256, 256]},
        learning_starts=1000,
        train_freq=1,
        gradient_steps=1,
        seed=0,
        verbose=0,
    )


def sb3_sac_rate(env_id: str, steps: int, warm: int, lib: str = "sb3") -> float:
    from stable_baselines3.common.callbacks import BaseCallback

    env = gym.make(env_id)
    model = sb3_sac(env, lib)
    marks: dict[int, float] = {}

    class Clock(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps in (warm, warm + steps):
                marks[self.num_timesteps] = time.perf_counter()
            return True

    model.learn(total_timesteps=warm + steps, callback=Clock())
    env.close()
    return steps / (marks[warm + steps] - marks[warm])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000, help="measured env steps after the warm-up")
    parser.add_argument("--warm", type=int, default=2000, help="env steps before measuring (random phase and compile)")
    parser.add_argument("--mbpo-steps", type=int, default=1000, help="measured env steps for MEMB and MBPO on Hopper")
    parser.add_argument("--skip-mbpo", action="store_true", help="MEMB alone on Hopper")
    parser.add_argument("--skip-sac", action="store_true")
    args = parser.parse_args()
    started = header()
    sac = {"batch_size": 256, "policy_hidden": "256,256", "value_hidden": "256,256", "updates_per_step": 1}
    results: dict[str, float] = {}
    # alternating twice, so that a drift of the machine hits both sides alike
    for i in range(0 if args.skip_sac else 2):
        results[f"memb_sac_{i}"] = memb_rate("sac", "HalfCheetah-v5", args.steps, args.warm, sac)
        results[f"sb3_sac_{i}"] = sb3_sac_rate("HalfCheetah-v5", args.steps, args.warm)
        print(
            f"round {i}: memb SAC {results[f'memb_sac_{i}']:.1f} env steps/s, SB3 SAC {results[f'sb3_sac_{i}']:.1f}",
            flush=True,
        )
    rows = []
    if not args.skip_sac:
        memb_sac = (results["memb_sac_0"] + results["memb_sac_1"]) / 2
        sb3_sac = (results["sb3_sac_0"] + results["sb3_sac_1"]) / 2
        rows = [("SAC, HalfCheetah-v5: memb", memb_sac), ("SAC, HalfCheetah-v5: Stable-Baselines3", sb3_sac)]
    # both past their random phase and MEMB past its model-only warm-up, so that both do their full work per step
    for algo in ("memb",) if args.skip_mbpo else ("memb", "mbpo"):
        # MEMB's unrolled update from the warm-up's end: the program a long run spends its time in
        warm = {"model_warmup_steps": 1000, "unroll_rounds_after": 0} if algo == "memb" else {}
        rate = memb_rate(algo, "Hopper-v5", args.mbpo_steps, 1000, warm)
        results[f"{algo}_hopper"] = rate
        rows.append((f"{algo.upper()}, Hopper-v5 (its preset)", rate))
        print(f"{algo} on Hopper-v5: {1000 / rate:.1f} s per 1,000 env steps", flush=True)
    record = {**started, "steps": args.steps, "warm": args.warm, "results": results}
    if not args.skip_sac:
        record["sac_speedup"] = memb_sac / sb3_sac
    lines = [
        "",
        "| agent | env steps/s | seconds per 1,000 env steps |",
        "|---|---|---|",
        *[f"| {name} | {rate:.1f} | {1000 / rate:.1f} |" for name, rate in rows],
    ]
    if not args.skip_sac:
        lines += ["", f"memb SAC / SB3 SAC: {memb_sac / sb3_sac:.2f}x (mean of two alternating rounds each)."]
    write_record("baselines", "speed-", record, "Training speed side by side", lines)


if __name__ == "__main__":
    main()
