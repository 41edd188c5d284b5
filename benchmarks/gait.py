"""How a trained HalfCheetah policy runs: its body pitch, height and forward speed over deterministic episodes.

HalfCheetah has well-known local optima in gait: besides running level, a policy can learn to run tilted, on its
front legs and head, or flipped on its back, and such gaits climb more slowly and end lower. This script tells them
apart for saved runs, so that a slow or stalled seed can be checked for a different gait rather than a defect.

It reads MuJoCo's state directly: the root's pitch `qpos[2]` (rooty, radians; positive tips the nose down), its
height `qpos[1]` (rootz, relative to the start) and its forward speed `qvel[0]`. A flipped cheetah has |pitch| > π/2.

    python benchmarks/gait.py RUN_DIR|SB3_ZIP [...] [--episodes 5] [--record NAME]

A path ending in .zip is a Stable-Baselines3 SAC model (`time_to_return.py --save-sb3 DIR` writes them), so that
SAC's slow seeds can be looked at the same way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from memb import Agent  # noqa: E402

from _record import header, write_record  # noqa: E402


def policy(path: str):
    """A deterministic act function of a memb run directory or an SB3 SAC .zip."""
    if path.endswith(".zip"):
        from stable_baselines3 import SAC

        model = SAC.load(path, device="cpu")
        return lambda obs: model.predict(obs, deterministic=True)[0]
    agent = Agent.load(path)
    return lambda obs: agent.act(obs, deterministic=True)


def gait(run_dir: str, episodes: int, seed: int = 100) -> dict:
    act = policy(run_dir)
    env = gym.make("HalfCheetah-v5")
    rows = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        data = env.unwrapped.data
        ret, pitch, height, speed = 0.0, [], [], []
        while True:
            obs, r, term, trunc, _ = env.step(act(obs))
            ret += float(r)
            pitch.append(float(data.qpos[2]))
            height.append(float(data.qpos[1]))
            speed.append(float(data.qvel[0]))
            if term or trunc:
                break
        pitch = np.asarray(pitch)
        rows.append(
            {
                "return": ret,
                "pitch_mean": float(pitch.mean()),
                "pitch_abs_median": float(np.median(np.abs(pitch))),
                "flipped_fraction": float(np.mean(np.abs(pitch) > np.pi / 2)),
                "height_mean": float(np.mean(height)),
                "speed_mean": float(np.mean(speed)),
            }
        )
    env.close()
    return {"run": run_dir, "episodes": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="HalfCheetah-v5 `memb train` run directories, or SB3 SAC .zip files")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--record", default=None, help="write benchmarks/results/gait/NAME<date>.json and .md")
    args = parser.parse_args()
    if args.episodes < 1:
        sys.exit(f"error: --episodes must be >= 1, got {args.episodes}")
    for run in args.runs:
        if not (Path(run).is_file() if run.endswith(".zip") else (Path(run) / "state.msgpack").is_file()):
            sys.exit(f"error: {run} is neither an SB3 .zip nor a run directory with state.msgpack")
    results = [gait(run, args.episodes) for run in args.runs]
    lines = [
        f"- {args.episodes} deterministic episodes per run (reset seeds 100, 101, …); pitch = root rooty in radians",
        "  (positive tips the nose down), height = rootz, speed = root forward velocity (m/s)",
        "",
        "| run | return (mean) | pitch, mean | |pitch|, median | flipped share | height, mean | speed, mean |",
        "|---|---|---|---|---|---|---|",
    ]
    for res in results:
        eps = res["episodes"]

        def mean(key: str, eps: list = eps) -> float:
            return float(np.mean([e[key] for e in eps]))

        lines.append(
            f"| `{res['run']}` | {mean('return'):.0f} | {mean('pitch_mean'):+.2f} | {mean('pitch_abs_median'):.2f} "
            f"| {mean('flipped_fraction'):.2f} | {mean('height_mean'):+.3f} | {mean('speed_mean'):.2f} |"
        )
    print("\n".join(lines))
    if args.record:
        write_record("gait", args.record, {**header(), "results": results}, "HalfCheetah gaits of trained runs", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
