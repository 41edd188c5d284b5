"""How saturated a trained policy's actions are: one deterministic episode of a finished run's final agent
(its state.msgpack): the fraction of action components at the bounds (|a| > 0.99 in memb's [-1, 1] action space),
the mean |a|, the std of each component over the episode (a gait switches its actions, a collapsed actor holds one
corner of the box), and the episode's return. A deterministic policy whose actions all sit at the bounds earns only
the control cost on HalfCheetah (0.1 Σ a² per step: about −600 an episode), the signature of a collapsed actor.

    python benchmarks/action_saturation.py RUN_DIR [RUN_DIR ...] [--episodes 1] [--record NAME-]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from memb.training.envs import ActionScaler, make_env  # noqa: E402
from memb.training.trainer import build_agent, load_state, read_run_config  # noqa: E402

from _record import header, write_record  # noqa: E402


def saturation(run_dir: Path, episodes: int) -> dict:
    run = read_run_config(run_dir)
    env = make_env(run.train.env)
    agent = build_agent(run, env)
    scaler = ActionScaler(env.action_space)
    state = load_state(run_dir, agent)
    key = jax.random.PRNGKey(0)
    actions, returns = [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=10_000 + episode)
        total, done = 0.0, False
        while not done:
            a, key = agent.act(state, obs, key, deterministic=True)
            actions.append(a)
            obs, r, terminated, truncated, _ = env.step(scaler.to_env(a))
            total += float(r)
            done = terminated or truncated
        returns.append(total)
    env.close()
    signed = np.array(actions)
    acts = np.abs(signed)
    return {
        "dir": str(run_dir),
        "algo": run.algo,
        "env": run.train.env,
        "return": float(np.mean(returns)),
        "mean_abs_action": float(acts.mean()),
        "saturated_fraction": float((acts > 0.99).mean()),
        # a gait switches its actions; a collapsed actor holds one corner of the box (std over time near 0)
        "action_std_over_time": float(signed.std(axis=0).mean()),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--episodes", type=int, default=1)
    p.add_argument("--record", default="", help="write benchmarks/results/baselines/NAME<date>.json/.md")
    args = p.parse_args()
    for d in args.runs:
        if not (Path(d) / "config.json").is_file() or not (Path(d) / "state.msgpack").is_file():
            p.error(f"{d} has no config.json and state.msgpack; give a finished run directory written by memb train")
    started = header()
    rows = [saturation(Path(d), args.episodes) for d in args.runs]
    lines = [
        f"- {args.episodes} deterministic episode(s) per run, seeds from 10000",
        "",
        "| run | algo | return | mean abs action | action components with abs above 0.99 | std of each action "
        "component over time (mean) |",
        "|---|---|---|---|---|---|",
        *[
            f"| `{r['dir']}` | {r['algo']} | {r['return']:.0f} | {r['mean_abs_action']:.3f} | "
            f"{r['saturated_fraction']:.0%} | {r['action_std_over_time']:.3f} |"
            for r in rows
        ],
    ]
    print("\n".join(lines))
    if args.record:
        write_record("baselines", args.record, {**started, "runs": rows}, "Saturation of trained policies", lines)


if __name__ == "__main__":
    main()
