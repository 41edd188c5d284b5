"""Wall-clock to a return threshold: memb's MEMB against Stable-Baselines3's SAC, alternating, in one invocation.

    pip install torch==2.13.0 stable-baselines3   # benchmark-only (the CPU wheel; never a plain `torch`)
    python benchmarks/time_to_return.py        # Pendulum-v1 -200, InvertedPendulum-v5 1000, HalfCheetah-v5 3000
    python benchmarks/time_to_return.py --tasks Pendulum-v1 --seeds 3
    python benchmarks/time_to_return.py --tasks HalfCheetah-v5 --memb-set auto_alpha=true   # MEMB off its preset

For each task and seed, MEMB (memb's trainer, the paper's preset) and SB3 SAC (its defaults with batch 256 and
(256, 256) networks, one gradient step per env step, as facts.md §6) run one after the other. Both are evaluated with
the same protocol every `--eval-every` env steps (default: 250 on Pendulum-v1, 1000 on the others): `--eval-episodes`
deterministic episodes of fresh envs seeded (seed, evaluation index), the mean return compared with the threshold.
The clock counts training only: everything but the evaluations, compilation included. A run stops at the threshold or
at `--max-steps`. Written to benchmarks/results/performance/time-to-return-<date>.json and .md. Run it on an otherwise
idle machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from memb.experiments import resolve  # noqa: E402
from memb.training import use_compilation_cache  # noqa: E402

from _record import header, write_record  # noqa: E402

THRESHOLDS = {"Pendulum-v1": -200.0, "InvertedPendulum-v5": 1000.0, "HalfCheetah-v5": 3000.0}
MAX_STEPS = {"Pendulum-v1": 20_000, "InvertedPendulum-v5": 40_000, "HalfCheetah-v5": 200_000}
# A run's time is read at its first evaluation at or above the threshold, so it is rounded up to the next evaluation:
# every 1000 steps that is 12-15 s of either agent's Pendulum training, a third of the times compared (memb reaching
# -200 at 1.75k steps was counted at 2k, SB3 at 3.75k at 4k). 250 steps is about one Pendulum episode. More evaluations
# also give a policy near the threshold more chances to pass it on a lucky set of episodes; the agent that needs more
# steps (SB3 SAC here) gets more of them. Evaluations are off the clock either way.
EVAL_EVERY = {"Pendulum-v1": 250}


def evaluate_policy(act, env_id: str, seed: int, index: int, episodes: int) -> float:
    """Mean return of `episodes` deterministic episodes, each env reset with seed (seed, index, episode)."""
    seeds = np.random.SeedSequence([seed, index]).generate_state(episodes)
    returns = []
    for s in seeds:
        env = gym.make(env_id)
        obs, _ = env.reset(seed=int(s))
        done, total = False, 0.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            done = terminated or truncated
        env.close()
        returns.append(total)
    return float(np.mean(returns))


def run_memb(
    env_id: str, seed: int, threshold: float, max_steps: int, eval_every: int, episodes: int, algo="memb", **config
) -> dict:
    """memb's own trainer with `stop_return`: it ends at the first evaluation at or above the threshold. Its
    metrics' train_time is the clock without the evaluations; its evaluations use the same protocol as SB3's here.
    `algo` and `config` (flat overrides of its preset) choose another agent or settings."""
    from memb.training import train

    over = {
        **config,
        "env": env_id,
        "seed": seed,
        "steps": max_steps,
        "epoch_length": eval_every,
        "eval_episodes": episodes,
        "checkpoint_every": 0,
        "stop_return": threshold if np.isfinite(threshold) else None,
    }
    run, _ = resolve(over, algo=algo)
    with tempfile.TemporaryDirectory() as tmp:
        result = train(run, Path(tmp) / "run", progress=False, tensorboard=False)
    curve = [
        (e["step"], m["train_time"], e["return_mean"])
        for e, m in zip(result.eval_rows, result.metric_rows, strict=True)
    ]
    step, seconds, ret = curve[-1]
    return {"reached": ret >= threshold, "steps": step, "seconds": seconds, "curve": curve}


def run_sb3(
    env_id: str, seed: int, threshold: float, max_steps: int, eval_every: int, episodes: int, save_to=None, **sac
) -> dict:
    """SB3's SAC with batch 256 and (256, 256) networks; `sac` overrides its other arguments. With `save_to` (a
    folder), the trained model is saved there as `sb3_sac-ENV-sSEED.zip` when the run stops (outside the timing)."""
    import torch
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    torch.set_num_threads(len(__import__("os").sched_getaffinity(0)))
    env = gym.make(env_id)
    model = SAC(
        "MlpPolicy",
        env,
        **{"batch_size": 256, "policy_kwargs": {"net_arch": [256, 256]}, "learning_starts": 1000, **sac},
        seed=seed,
        verbose=0,
    )
    state = {"seconds": 0.0, "start": time.perf_counter(), "curve": [], "reached": False}

    class Evaluate(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every:
                return True
            state["seconds"] += time.perf_counter() - state["start"]
            act = lambda obs: model.predict(obs, deterministic=True)[0]  # noqa: E731
            ret = evaluate_policy(act, env_id, seed, len(state["curve"]), episodes)
            state["curve"].append((self.num_timesteps, state["seconds"], ret))
            state["start"] = time.perf_counter()
            if ret >= threshold:
                state["reached"] = True
                return False
            return True

    model.learn(total_timesteps=max_steps, callback=Evaluate())
    env.close()
    if save_to is not None:
        Path(save_to).mkdir(parents=True, exist_ok=True)
        model.save(Path(save_to) / f"sb3_sac-{env_id}-s{seed}.zip")
    last = state["curve"][-1] if state["curve"] else (0, state["seconds"], float("nan"))
    return {"reached": state["reached"], "steps": last[0], "seconds": last[1], "curve": state["curve"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(THRESHOLDS), help="comma-separated env ids")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1")
    parser.add_argument(
        "--seed-list", default=None, metavar="S1,S2", help="these seeds instead of --seeds (a run split in parts)"
    )
    parser.add_argument(
        "--agents", default="memb,sb3_sac", help="which of memb, sb3_sac to run (default both, alternating)"
    )
    parser.add_argument(
        "--eval-every", type=int, default=None, help="env steps between evaluations (default: 250 Pendulum, else 1000)"
    )
    parser.add_argument("--eval-episodes", type=int, default=5)
    parser.add_argument(
        "--max-steps", type=int, default=None,
        help="stop every run, memb's and SB3's alike, at this many env steps (default: 20k Pendulum, 40k "
        "InvertedPendulum, 200k HalfCheetah); a run that stops unreached counts as infinitely slow in the medians",
    )  # fmt: skip
    parser.add_argument(
        "--memb-set", action="append", default=[], metavar="KEY=VALUE",
        help="override a field of MEMB's preset (repeatable), e.g. auto_alpha=true; the record lists them",
    )  # fmt: skip
    parser.add_argument(
        "--save-sb3", default=None, metavar="DIR",
        help="save each SB3 model to DIR when its run stops (for benchmarks/gait.py); not part of the timing",
    )  # fmt: skip
    parser.add_argument(
        "--compilation-cache", action="store_true",
        help="memb with the persistent compilation cache the `memb` command uses, in a fresh folder for this "
        "invocation: its first run compiles, later runs of the same settings load (default: every run compiles)",
    )  # fmt: skip
    args = parser.parse_args()
    if any("=" not in kv for kv in args.memb_set):
        raise SystemExit(f"--memb-set takes KEY=VALUE, got {args.memb_set}")
    try:
        args.seed_values = [int(x) for x in args.seed_list.split(",")] if args.seed_list else list(range(args.seeds))
    except ValueError:
        raise SystemExit(f"--seed-list takes comma-separated integers, got {args.seed_list!r}") from None
    args.agent_names = args.agents.split(",")
    if not args.agent_names or set(args.agent_names) - {"memb", "sb3_sac"}:
        raise SystemExit(f"--agents takes memb and/or sb3_sac, comma-separated, got {args.agents!r}")
    args.max_steps_of = {t: args.max_steps or MAX_STEPS.get(t) for t in args.tasks.split(",")}
    default = args.eval_every is None
    args.eval_every_of = {t: EVAL_EVERY.get(t, 1000) if default else args.eval_every for t in args.tasks.split(",")}
    if any(e < 1 for e in args.eval_every_of.values()):
        raise SystemExit(f"--eval-every must be a positive number of env steps, got {args.eval_every}")
    for t, n in args.max_steps_of.items():
        if n is not None and n < args.eval_every_of[t]:
            raise SystemExit(f"--max-steps must be at least --eval-every ({args.eval_every_of[t]}), got {n}")
    args.memb_overrides = dict(kv.split("=", 1) for kv in args.memb_set)
    fixed = {"env", "seed", "steps", "epoch_length", "eval_episodes", "checkpoint_every", "stop_return"}
    if fixed & set(args.memb_overrides):
        raise SystemExit(f"--memb-set cannot change {sorted(fixed & set(args.memb_overrides))}: the protocol sets them")
    if any(k.startswith("JAX_") and "CACHE" in k for k in os.environ):
        raise SystemExit(
            "unset JAX's compilation-cache variables first: this script decides memb's cache (--compilation-cache)"
        )
    cache = tempfile.TemporaryDirectory() if args.compilation_cache else None
    if cache is not None:
        os.environ["MEMB_COMPILATION_CACHE"] = cache.name
        use_compilation_cache()
    started = header()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H%M")
    results: dict[str, dict] = {}
    for env_id in args.tasks.split(","):
        if env_id not in THRESHOLDS:
            raise SystemExit(f"no threshold for {env_id}; choose from {', '.join(THRESHOLDS)}")
    for env_id in args.tasks.split(","):
        threshold, max_steps = THRESHOLDS[env_id], args.max_steps_of[env_id]
        results[env_id] = {"memb": [], "sb3_sac": []}
        for seed in args.seed_values:  # alternating, so that drifts of the machine hit both alike
            for name, fn, over in (
                ("memb", run_memb, args.memb_overrides),
                ("sb3_sac", run_sb3, {"save_to": args.save_sb3}),
            ):
                if name not in args.agent_names:
                    continue
                r = fn(env_id, seed, threshold, max_steps, args.eval_every_of[env_id], args.eval_episodes, **over)
                r = {"seed": seed, **r}
                results[env_id][name].append(r)
                print(
                    f"{env_id} seed {seed} {name}: {'reached' if r['reached'] else 'NOT reached'} {threshold:g} "
                    f"at {r['steps']} steps, {r['seconds']:.0f} s of training",
                    flush=True,
                )
                write(started, stamp, args, results)  # after every run: a stop loses only the run in progress


def marginal_ms(run: dict) -> float:
    """A run's training milliseconds per env step once it runs steadily: the median over the later half of its
    evaluation intervals (the earlier ones hold the random phase, warm-ups and compilation)."""
    curve = run["curve"]
    if len(curve) < 2:
        return 1000.0 * run["seconds"] / run["steps"] if run["steps"] else float("nan")
    rates = [1000.0 * (t1 - t0) / (s1 - s0) for (s0, t0, _), (s1, t1, _) in zip(curve, curve[1:], strict=False)]
    return float(np.median(rates[len(rates) // 2 :]))


def fixed_s(run: dict) -> float:
    """The seconds a run spent beyond its steady cost per step: start-up, compilation, cheaper or dearer phases."""
    return run["seconds"] - marginal_ms(run) * run["steps"] / 1000.0


def break_even(results: dict) -> list[str]:
    """What the wall-clock ratio is made of: each run's steady cost per env step and its fixed seconds, and the env
    steps at which memb, at its median steady cost after its median fixed seconds, would take SB3's median time."""

    def per_seed(runs, fn, fmt):
        return ", ".join(f"s{x['seed']} {fn(x):{fmt}}" for x in runs)

    def steps(runs):
        return ", ".join(f"s{x['seed']} {x['steps'] / 1000:g}k" + ("" if x["reached"] else " (not)") for x in runs)

    lines = [
        "",
        "What the ratio is made of: each run's steady ms per env step (the median over the later half of its "
        "evaluation intervals) and its fixed seconds beyond that (start-up and compilation, less what its cheaper "
        "random and warm-up phases save: negative when they save more); memb's "
        "break-even is the env steps at which, at its median steady cost after its median fixed seconds, it would "
        "take SB3's median time (memb ties SB3 if its median seed reaches the threshold by then):",
        "",
        "| task | memb ms/step | memb fixed s | SB3 ms/step | SB3 fixed s | cost ratio | memb steps | SB3 steps | "
        "memb's break-even steps |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for env_id, r in results.items():
        if not r["memb"] or not r["sb3_sac"]:
            continue
        memb_cost = np.median([marginal_ms(x) for x in r["memb"]])
        memb_fixed = np.median([fixed_s(x) for x in r["memb"]])
        sb3_cost = np.median([marginal_ms(x) for x in r["sb3_sac"]])
        sb3_time = np.median([x["seconds"] if x["reached"] else np.inf for x in r["sb3_sac"]])
        tie = (
            f"{(sb3_time - memb_fixed) / memb_cost:.1f}k"
            if np.isfinite(sb3_time)
            else "n/a (SB3's median seed did not reach it)"
        )
        lines.append(
            f"| {env_id} | {per_seed(r['memb'], marginal_ms, '.1f')} | {per_seed(r['memb'], fixed_s, '.0f')} | "
            f"{per_seed(r['sb3_sac'], marginal_ms, '.1f')} | {per_seed(r['sb3_sac'], fixed_s, '.0f')} | "
            f"{memb_cost / sb3_cost:.2f} | {steps(r['memb'])} | {steps(r['sb3_sac'])} | {tie} |"
        )
    return lines


def write(started: dict, stamp: str, args, results: dict) -> None:
    record = {
        **started,
        "thresholds": THRESHOLDS,
        "max_steps": args.max_steps_of,
        "eval_every": args.eval_every_of,
        "eval_episodes": args.eval_episodes,
        "memb_overrides": args.memb_overrides,
        "compilation_cache": args.compilation_cache,
        "seeds": args.seed_values,
        "agents": args.agent_names,
        "results": results,
    }
    lines = [
        "- evaluation every "
        + ", ".join(f"{t} {n}" for t, n in args.eval_every_of.items())
        + f" env steps, {args.eval_episodes} deterministic episodes; training time "
        "only (compilation included, evaluation excluded)",
        "- each run stops at the threshold or at " + ", ".join(f"{t} {n} steps" for t, n in args.max_steps_of.items()),
        "- memb's compiled programs: "
        + (
            "JAX's persistent cache, empty at the start of this invocation (each task's first memb run compiles, "
            "later seeds load)"
            if args.compilation_cache
            else "compiled in every run (no persistent cache)"
        ),
        "- MEMB: the paper's preset"
        + (" with " + ", ".join(f"{k}={v}" for k, v in args.memb_overrides.items()) if args.memb_overrides else ""),
        "",
        "| task | threshold | memb seconds (per seed) | SB3 SAC seconds (per seed) | ratio of medians memb / SB3 |",
        "|---|---|---|---|---|",
    ]
    for env_id, r in results.items():

        def cell(runs):
            return ", ".join(
                f"s{x['seed']} {x['seconds']:.0f}" + ("" if x["reached"] else " (not reached)") for x in runs
            )

        def median(runs):
            return np.median([x["seconds"] if x["reached"] else np.inf for x in runs]) if runs else np.nan

        m, s = median(r["memb"]), median(r["sb3_sac"])
        n = len(args.seed_values)
        done = min(len(r["memb"]), len(r["sb3_sac"]))
        ratio = f"{m / s:.2f}" if np.isfinite(m) and np.isfinite(s) and done == n else "n/a"
        if len(args.agent_names) == 1:
            ratio += f" (this part runs {args.agent_names[0]} only)"
        elif done < n:
            ratio += f" (seeds so far: memb {len(r['memb'])}, SB3 {len(r['sb3_sac'])} of {n})"
        lines.append(f"| {env_id} | {THRESHOLDS[env_id]:g} | {cell(r['memb'])} | {cell(r['sb3_sac'])} | {ratio} |")
    lines += break_even(results)
    write_record(
        "performance",
        "time-to-return-",
        record,
        "Wall-clock to a return threshold: memb MEMB against Stable-Baselines3 SAC",
        lines,
        stamp=stamp,
    )


if __name__ == "__main__":
    main()
