"""Resident memory of a training run with a 1M-transition replay buffer: the peak, and whether it grows.

Starts `memb train` with `--steps 1000000` (so that the buffer holds 1M transitions; it is resident in full from the
start, see memb/training/buffer.py), samples the process's resident memory every second from /proc, stops the run
with SIGINT once it has done `--run-steps` env steps (it writes a checkpoint and exits), and records:
  - the peak resident memory (the kernel's VmHWM, read just before the stop) and the buffer's share of it;
  - the resident memory at the end of every epoch (metrics.csv's rss_mb, and anon_mb, its anonymous part) and the
    least-squares slope of each over the epochs after the warm-up, in MiB per 10k env steps (rss_mb also counts
    mapped library files, which the kernel may page out and back in);
  - the C allocator's bytes in use (heap_mb), the free chunks it keeps (heap_free_mb) and Python's allocated blocks
    (py_blocks) at the end of every epoch, and their slopes. Resident memory also keeps what the allocator freed but
    did not give back, so without the trainer's per-epoch trim (`--trim-memory false`) it moves in steps; a leak is
    a positive slope of heap_mb or py_blocks.

    python benchmarks/memory.py [--env HalfCheetah-v5] [--run-steps 20000] [--record memory-] [-- EXTRA memb ARGS]
    python benchmarks/memory.py --from-run DIR [--record memory-]

`--from-run` reads a finished (or stopped) run's own metrics.csv instead of starting one: the same slopes, and as the
peak the largest end-of-epoch resident memory (the kernel's VmHWM of a process that has ended is not kept). A long
run made for another purpose (a 200k-step baseline, say) then shows whether memory grows without a run of its own.
"""

from __future__ import annotations

import argparse
import csv
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from memb.training import memory  # noqa: E402
from memb.training.buffer import buffer_bytes  # noqa: E402

from _record import header, write_record  # noqa: E402


def status_mib(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


FIGURES = memory.COLUMNS  # metrics.csv's memory columns


def epochs(metrics: Path) -> list[dict]:
    if not metrics.exists():
        return []
    with open(metrics) as f:
        return [{"step": int(r["step"]), **{k: float(r.get(k) or "nan") for k in FIGURES}} for r in csv.DictReader(f)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--algo", default="memb")
    p.add_argument("--run-steps", type=int, default=20_000, help="env steps before the stop")
    p.add_argument("--buffer-size", type=int, default=1_000_000)
    p.add_argument("--skip-steps", type=int, default=6_000, help="epochs before this step are left out of the slope")
    p.add_argument("--record", default="", help="write benchmarks/results/performance/NAME<date>.json/.md")
    p.add_argument("--until-step", type=int, default=0, help="epochs after this step are left out of the slope")
    p.add_argument("--from-run", default="", help="a run directory: read its metrics.csv instead of starting a run")
    args, extra = p.parse_known_args()
    extra = [a for a in extra if a != "--"]
    started = header()  # the command, commit, date and machine as the run starts
    if args.from_run:
        run_dir = Path(args.from_run)
        if not (run_dir / "metrics.csv").is_file() or not (run_dir / "config.json").is_file():
            p.error(f"{run_dir} has no metrics.csv and config.json; give a run directory written by memb train")
        config = json.loads((run_dir / "config.json").read_text())
        args.env, args.algo = config["train"]["env"], config.get("algo", "memb")
        args.buffer_size = int(config["train"]["buffer_size"])
        rows = epochs(run_dir / "metrics.csv")
        if not rows or not all(np.isfinite(r["anon_mb"]) for r in rows):
            p.error(f"{run_dir}/metrics.csv has no anon_mb in every row (runs made before it was added cannot show it)")
        cmd = ["memb", f"(the run in {run_dir}, made by its own command)", "", ""]
        samples, peak = [], max(r["rss_mb"] for r in rows)
        started["source_run"] = str(run_dir)
    else:
        cmd, samples, peak, rows = start_run(args, extra)
    report(args, started, cmd, samples, peak, rows)


def start_run(args, extra: list[str]):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        memb = str(Path(sys.executable).parent / "memb")
        cmd = [memb, "train", "--env", args.env, "--algo", args.algo, "--steps", str(args.buffer_size),
               "--buffer-size", str(args.buffer_size), "--no-progress", "--out", str(out), *extra]  # fmt: skip
        proc = subprocess.Popen(cmd)
        samples, start = [], time.time()
        peak = float("nan")
        while proc.poll() is None:
            time.sleep(1.0)
            try:
                samples.append((time.time() - start, status_mib(proc.pid, "VmRSS")))
                rows = epochs(out / "metrics.csv")
                if rows and rows[-1]["step"] >= args.run_steps:
                    peak = status_mib(proc.pid, "VmHWM")
                    proc.send_signal(signal.SIGINT)
                    break
            except (FileNotFoundError, ProcessLookupError):
                break
        proc.wait()
        rows = epochs(out / "metrics.csv")
    return cmd, samples, peak, rows


def report(args, started: dict, cmd: list[str], samples: list, peak: float, rows: list[dict]) -> None:
    env = gym.make(args.env)
    buffer_mib = buffer_bytes(args.buffer_size, env.observation_space.shape[0], env.action_space.shape[0]) / 2**20
    env.close()
    late = [r for r in rows if r["step"] >= args.skip_steps and (not args.until_step or r["step"] <= args.until_step)]
    slopes = dict.fromkeys(FIGURES, float("nan"))
    if len(late) >= 3:
        x = np.array([r["step"] for r in late], float)
        for k in slopes:
            y = np.array([r[k] for r in late])
            if np.isfinite(y).all():
                slopes[k] = float(np.polyfit(x, y, 1)[0] * 10_000)
    slope = slopes["anon_mb"]
    record = {
        **started,
        "env": args.env,
        "algo": args.algo,
        "buffer_size": args.buffer_size,
        "buffer_mib": buffer_mib,
        "peak_rss_mib": peak,
        "slope_mib_per_10k_steps": slope,  # of anon_mb
        "rss_slope_mib_per_10k_steps": slopes["rss_mb"],
        "heap_slope_mib_per_10k_steps": slopes["heap_mb"],  # the C allocator's bytes in use
        "heap_free_slope_mib_per_10k_steps": slopes["heap_free_mb"],  # its free chunks
        "py_blocks_slope_per_10k_steps": slopes["py_blocks"],
        "epochs": rows,
        "rss_samples": samples,
    }
    first, last = (late[0], late[-1]) if late else ({**dict.fromkeys(FIGURES, float("nan")), "step": 0},) * 2
    lines = [
        "",
        f"- run: {cmd[1]}, {rows[-1]['step']} env steps"
        if args.from_run
        else f"- run: `{' '.join(['memb', *cmd[1:-2]])}`, stopped with SIGINT after {rows[-1]['step'] if rows else 0} "
        "env steps",
        f"- buffer: {args.buffer_size:,} transitions = {buffer_mib:.0f} MiB, resident from the start",
        f"- peak resident memory (the largest end-of-epoch rss_mb): **{peak:.0f} MiB**"
        if args.from_run
        else f"- peak resident memory (VmHWM): **{peak:.0f} MiB**",
        f"- anonymous resident memory at the end of each epoch from step {args.skip_steps}"
        + (f" to {args.until_step}" if args.until_step else "")
        + f": {first['anon_mb']:.0f} "
        f"MiB at {first['step']} → {last['anon_mb']:.0f} MiB at {last['step']}; least-squares slope **{slope:+.2f} "
        f"MiB per 10k env steps** (all resident memory: {first['rss_mb']:.0f} → {last['rss_mb']:.0f} MiB, "
        f"{slopes['rss_mb']:+.2f} per 10k)",
        f"- the C allocator's bytes in use (heap_mb, glibc's mallinfo2): {first['heap_mb']:.1f} → "
        f"{last['heap_mb']:.1f} MiB, slope **{slopes['heap_mb']:+.2f} MiB per 10k env steps**; Python's allocated "
        f"blocks (py_blocks): {first['py_blocks']:.0f} → {last['py_blocks']:.0f}, slope "
        f"{slopes['py_blocks']:+.0f} per 10k; the allocator's free chunks (heap_free_mb, fordblks): "
        f"{first['heap_free_mb']:.1f} → {last['heap_free_mb']:.1f} MiB, slope {slopes['heap_free_mb']:+.2f} per 10k",
        "",
        "| step | rss (MiB) | anonymous (MiB) | allocator in use (MiB) | allocator free (MiB) | Python blocks |",
        "|---|---|---|---|---|---|",
        *[
            f"| {r['step']} | {r['rss_mb']:.1f} | {r['anon_mb']:.1f} | {r['heap_mb']:.1f} | {r['heap_free_mb']:.1f} "
            f"| {r['py_blocks']:.0f} |"
            for r in rows
        ],  # fmt: skip
    ]
    print("\n".join(lines))
    if args.record:
        write_record("performance", args.record, record, f"Resident memory of {args.env} with a 1M buffer", lines)


if __name__ == "__main__":
    main()
