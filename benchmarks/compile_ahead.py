"""What compiling ahead (training/ahead.py) saves a run: the paper's presets with it on and off, in fresh processes.

    python benchmarks/compile_ahead.py                          # Pendulum-v1, InvertedPendulum-v5, HalfCheetah-v5
    python benchmarks/compile_ahead.py --envs Pendulum-v1 --repeats 4

Each run trains the preset (nothing compiled yet, no persistent cache) from a fresh process up to one epoch past the
start of the full updates (the end of the model-only warm-up), so that it crosses every compile a longer run pays:
the warm-up update, the fused update, the policy's action and the first evaluations. The two settings alternate, so
that a drift of the machine hits both alike. Per run: the wall-clock from the process's start to the end of `train`,
the loop's start, and the training clock of `time_to_return.py` (metrics.csv's train_time: everything in the loop
but the evaluations). The two settings must give the same eval.csv and final state, byte for byte; the record says
whether they did. Written to benchmarks/results/performance/compile-ahead-<date>.json and .md. Run it on an
otherwise idle machine.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _record import header, write_record  # noqa: E402

ENVS = ("Pendulum-v1", "InvertedPendulum-v5", "HalfCheetah-v5")


def child(env_id: str, ahead: bool, out: str) -> None:
    """One run in this (fresh) process; prints its timings as JSON."""
    started = time.perf_counter()
    import memb.training.trainer as trainer
    from memb.experiments import resolve

    loop_start = {}
    loop = trainer._Run.loop

    def timed_loop(self, **kwargs):
        loop_start["s"] = time.perf_counter() - started
        return loop(self, **kwargs)

    trainer._Run.loop = timed_loop
    probe, _ = resolve({"env": env_id})
    steps = probe.agent.model_warmup_steps + 2 * probe.train.epoch_length
    run, _ = resolve({"env": env_id, "steps": steps, "checkpoint_every": 0, "compile_ahead": ahead})
    result = trainer.train(run, out, progress=False, tensorboard=False)
    total = time.perf_counter() - started
    digest = hashlib.sha256((Path(out) / "eval.csv").read_bytes() + (Path(out) / "state.msgpack").read_bytes())
    print(
        json.dumps(
            {
                "steps": steps,
                "total_s": total,
                "loop_start_s": loop_start["s"],
                "train_s": result.metric_rows[-1]["train_time"],
                "eval_s": sum(m["eval_time"] for m in result.metric_rows),
                "final_return": result.final_return,
                "digest": digest.hexdigest(),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", default=",".join(ENVS), help="comma-separated env ids with a paper preset")
    parser.add_argument("--repeats", type=int, default=2, help="fresh processes per setting and task (default: 2)")
    parser.add_argument("--child", nargs=3, metavar=("ENV", "AHEAD", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        env_id, ahead, out = args.child
        child(env_id, ahead == "1", out)
        return
    if args.repeats < 1:
        raise SystemExit(f"--repeats must be at least 1, got {args.repeats}")
    from memb.experiments.presets import paper_preset

    envs = args.envs.split(",")
    for env_id in envs:
        if paper_preset(env_id) is None:
            raise SystemExit(f"{env_id} has no paper preset; choose from {', '.join(ENVS)}")
    started = header()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H%M")
    env = {k: v for k, v in os.environ.items() if not (k.startswith("JAX_") and "CACHE" in k)}
    env["JAX_ENABLE_COMPILATION_CACHE"] = "false"  # every process compiles everything
    results: dict[str, dict[str, list[dict]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for env_id in envs:
            results[env_id] = {"on": [], "off": []}
            for repeat in range(args.repeats):
                order = ("on", "off") if repeat % 2 == 0 else ("off", "on")
                for setting in order:
                    out = Path(tmp) / f"{env_id}-{setting}-{repeat}"
                    cmd = [sys.executable, __file__, "--child", env_id, "1" if setting == "on" else "0", str(out)]
                    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
                    if done.returncode:
                        raise SystemExit(f"{env_id} {setting}: the run failed:\n{done.stderr[-2000:]}")
                    r = json.loads(done.stdout.strip().splitlines()[-1])
                    results[env_id][setting].append(r)
                    print(
                        f"{env_id} {setting:3s}: {r['total_s']:6.1f} s in all, loop from {r['loop_start_s']:.1f} s, "
                        f"training clock {r['train_s']:6.1f} s",
                        flush=True,
                    )
    lines = [
        f"- protocol: each task's paper preset from a fresh process, no persistent cache, to one epoch past the end of "
        f"the model-only warm-up; compile ahead on and off alternating, {args.repeats} processes each; medians",
        "- in all: process start to the end of `train`; training clock: metrics.csv's train_time (the loop without "
        "its evaluations: `time_to_return.py`'s clock)",
        "",
        "| task | steps | in all, on (s) | off (s) | saved | training clock, on (s) | off (s) | saved | same runs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    summary = {}
    for env_id, r in results.items():
        med = {s: {k: statistics.median(x[k] for x in r[s]) for k in ("total_s", "train_s")} for s in ("on", "off")}
        same = len({x["digest"] for x in r["on"] + r["off"]}) == 1
        summary[env_id] = {**{f"{k}_{s}": v for s in med for k, v in med[s].items()}, "identical": same}
        lines.append(
            f"| {env_id} | {r['on'][0]['steps']:,} | {med['on']['total_s']:.1f} | {med['off']['total_s']:.1f} | "
            f"{med['off']['total_s'] - med['on']['total_s']:.1f} | {med['on']['train_s']:.1f} | "
            f"{med['off']['train_s']:.1f} | {med['off']['train_s'] - med['on']['train_s']:.1f} | "
            f"{'yes' if same else 'NO'} |"
        )
    lines += [
        "",
        "Each process:",
        "",
        "| task | setting | in all (s) | loop start (s) | training clock (s) | evaluations (s) |",
    ]
    lines.append("|---|---|---|---|---|---|")
    for env_id, r in results.items():
        for setting in ("on", "off"):
            for x in r[setting]:
                lines.append(
                    f"| {env_id} | {setting} | {x['total_s']:.1f} | {x['loop_start_s']:.1f} | {x['train_s']:.1f} | "
                    f"{x['eval_s']:.1f} |"
                )
    record = {**started, "results": results, "summary": summary}
    write_record("performance", "compile-ahead-", record, "What compiling ahead saves a run", lines, stamp)


if __name__ == "__main__":
    main()
