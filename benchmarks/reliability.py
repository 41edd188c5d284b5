"""Kill-and-resume runs and the cost of a checkpoint, recorded under benchmarks/results/reliability/.

    python benchmarks/reliability.py kills --env Pendulum-v1 --steps 1500 --kills 5
    python benchmarks/reliability.py kills --env HalfCheetah-v5 --steps 800 --kills 3
    python benchmarks/reliability.py cost                 # HalfCheetah shapes, a full 1M-transition buffer

`kills`: one uninterrupted run and one run SIGKILLed at random moments (each after the process has written a new
checkpoint, plus a random delay) and resumed each time; then the two are compared file by file.
`cost`: seconds and bytes of one checkpoint of a HalfCheetah-v5 run whose replay buffer holds 1M transitions.
Time `cost` on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from memb.training import checkpoint, memory  # noqa: E402
from memb.training.io import write_json_atomic  # noqa: E402

from _record import header  # noqa: E402

OUT = Path(__file__).parent / "results" / "reliability"
TIMING = {"updates_per_s", "env_steps_per_s", "train_time", "eval_time", *memory.COLUMNS}  # and memory


def small_run_args(env: str, steps: int) -> list[str]:
    return [
        "--env", env, "--steps", str(steps), "--epoch-length", "250", "--checkpoint-every", "50",
        "--eval-episodes", "2", "--random-steps", "100", "--model-warmup-steps", "200", "--batch-size", "32",
        "--policy-hidden", "32,32", "--value-hidden", "32,32", "--model-hidden", "32,32", "--updates-per-step", "2",
        "--no-progress", "--no-tensorboard",
    ]  # fmt: skip


def memb(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "memb.cli.main", *args], stderr=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL)  # fmt: skip


def newest(run_dir: Path) -> int:
    return max((int(p.name) for p in checkpoint.complete_checkpoints(run_dir)), default=-1)


def kills(args) -> dict:
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as d:
        ref, killed = Path(d) / "reference", Path(d) / "killed"
        assert memb("train", *small_run_args(args.env, args.steps), "--out", str(ref)).wait() == 0
        proc = memb("train", *small_run_args(args.env, args.steps), "--out", str(killed))
        moments = []
        for _ in range(args.kills):
            before, t0 = newest(killed), time.time()
            while newest(killed) <= before and proc.poll() is None:
                time.sleep(0.02)
            delay = float(rng.uniform(0.0, args.max_delay))
            time.sleep(delay)
            alive = proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            moments.append(
                {
                    "newest_checkpoint": newest(killed),
                    "delay_after_it_s": round(delay, 3),
                    "killed_while_running": alive,
                    "seconds_into_process": round(time.time() - t0, 2),
                }
            )
            proc = memb("train", "--resume", str(killed), "--no-progress", "--no-tensorboard")
        assert proc.wait() == 0

        def metrics(p):
            return [{k: v for k, v in r.items() if k not in TIMING} for r in csv.DictReader((p / "metrics.csv").open())]

        same = {
            "eval.csv": (ref / "eval.csv").read_bytes() == (killed / "eval.csv").read_bytes(),
            "metrics.csv (bar timings)": metrics(ref) == metrics(killed),
            "state.msgpack": (ref / "state.msgpack").read_bytes() == (killed / "state.msgpack").read_bytes(),
        }
    return {
        "env": args.env,
        "steps": args.steps,
        "kills": moments,
        "identical": same,
        "all_identical": all(same.values()),
    }


def cost(args) -> dict:
    import jax

    from memb.experiments import resolve
    from memb.training.envs import make_env
    from memb.training.trainer import _Run, build_agent

    run, _ = resolve({"env": "HalfCheetah-v5", "steps": 1_000_000, "eval_episodes": 1})
    env = make_env("HalfCheetah-v5")
    agent = build_agent(run, env)
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        r = _Run(run, agent, env, [make_env("HalfCheetah-v5")], Path(d))
        rng = np.random.default_rng(0)
        n = r.buffer.capacity
        for name in ("obs", "action", "next_obs"):
            arr = getattr(r.buffer, name)
            arr[:] = rng.standard_normal(arr.shape, dtype=np.float32)
        r.buffer.reward[:] = rng.standard_normal(n, dtype=np.float32)
        r.buffer.size, r.buffer.pos = n, 0
        jax.block_until_ready(r.state)
        saves, loads = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            path = r.save_checkpoint()
            saves.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            assert checkpoint.latest(Path(d)) == path
            r.restore(path)
            loads.append(time.perf_counter() - t0)
            r.loop_state.step += 1  # the next checkpoint is a new one
        size = sum(f.stat().st_size for f in path.iterdir())
        files = {f.name: f.stat().st_size for f in path.iterdir()}
    return {
        "transitions": n,
        "checkpoint_bytes": size,
        "files": files,
        "save_seconds_median": float(np.median(saves)),
        "verify_and_restore_seconds_median": float(np.median(loads)),
        "disk": args.dir or tempfile.gettempdir(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    k = sub.add_parser("kills")
    k.add_argument("--env", required=True)
    k.add_argument("--steps", type=int, default=1500)
    k.add_argument("--kills", type=int, default=5)
    k.add_argument("--max-delay", type=float, default=2.0)
    k.add_argument("--seed", type=int, default=0)
    c = sub.add_parser("cost")
    c.add_argument("--dir", default=None, help="where to write the checkpoint (default: the temp dir)")
    args = p.parse_args()
    started = header()
    result = kills(args) if args.what == "kills" else cost(args)
    OUT.mkdir(parents=True, exist_ok=True)
    name = f"kills-{args.env}" if args.what == "kills" else "checkpoint-cost"
    write_json_atomic(OUT / f"{name}.json", {**started, **result})
    print(result)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
