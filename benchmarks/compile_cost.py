"""What compiling MEMB's programs costs at the start of a run, beside what each env step then costs.

    python benchmarks/compile_cost.py            # Pendulum-v1, InvertedPendulum-v5, HalfCheetah-v5
    python benchmarks/compile_cost.py --envs Pendulum-v1 --repeats 3

A short run pays its compilation once; the time-to-return protocol (`time_to_return.py`) counts it. For each task's
paper preset and each value of `unroll_rounds` (the m rounds' `lax.scan` unrolled or rolled), a fresh Python process
(nothing compiled yet, no persistent cache) times:
  - `init`: the agent's parameters and optimizer states (eager JAX ops);
  - the model-only warm-up update and the fused per-env-step update: tracing and lowering, then XLA's compilation;
  - the fused update's steady cost: ms per call (one env step's m rounds and model steps) over a window, waited.
With `--cache`, the same process is run a second time against a persistent compilation cache that the first filled,
what a second run costs once a first has filled the cache (JAX_COMPILATION_CACHE_DIR).
From the two settings it reports the env steps of full updates after which unrolling has paid for its compilation.
Written to benchmarks/results/performance/compile-cost-<date>.json and .md. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _record import header, write_record  # noqa: E402

ENVS = ("Pendulum-v1", "InvertedPendulum-v5", "HalfCheetah-v5")


def child(env_id: str, unroll: bool, seconds: float) -> dict:
    """Runs in a fresh process: the timings of one (task, unroll) setting."""
    t0 = time.perf_counter()
    import gymnasium as gym
    import jax
    from throughput import random_buffer

    from memb.agents import MEMB
    from memb.experiments import resolve

    env = gym.make(env_id)
    obs, act = env.observation_space.shape[0], env.action_space.shape[0]
    env.close()
    run, _ = resolve({"env": env_id, "unroll_rounds": unroll})
    agent = MEMB(run.agent, obs, act)
    rng = np.random.default_rng(0)
    buf = random_buffer(rng, 2_000, obs, act)
    imported = time.perf_counter() - t0

    t = time.perf_counter()
    state = jax.block_until_ready(agent.init(jax.random.PRNGKey(0)))
    init = time.perf_counter() - t
    batch = agent.config.batch_size
    out = {"import_s": imported, "init_s": init}
    for name, fn, n in (
        ("warmup", agent._warmup, agent.batches_per_step(0)),
        ("update", agent._update, agent.batches_per_step(agent.config.model_warmup_steps)),
    ):
        if not n:
            continue
        batches = buf.sample(rng, n, batch)
        t = time.perf_counter()
        lowered = fn.lower(state, batches)
        t1 = time.perf_counter()
        compiled = lowered.compile()
        t2 = time.perf_counter()
        out[f"{name}_lower_s"], out[f"{name}_compile_s"] = t1 - t, t2 - t1
        if name == "update":  # the steady cost of an env step's updates, the trainer's way (the guard waits)
            s, info = compiled(state, batches)
            np.asarray(info["finite"])
            calls, t = 0, time.perf_counter()
            while time.perf_counter() - t < seconds:
                s, info = compiled(s, buf.sample(rng, n, batch))
                np.asarray(info["finite"])
                calls += 1
            out["update_ms"] = 1000 * (time.perf_counter() - t) / calls
    return out


def measure(env_id: str, unroll: bool, seconds: float, cache: str | None) -> dict:
    """One fresh process; with `cache`, JAX's persistent compilation cache in that folder (every entry kept)."""
    environ = dict(os.environ)
    for k in [k for k in environ if k.startswith("JAX_") and "CACHE" in k]:
        del environ[k]  # a cache set in the caller's environment would hide the cold cost
    if cache is not None:
        environ.update(
            JAX_COMPILATION_CACHE_DIR=cache,
            JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
            JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
        )
    cmd = [sys.executable, __file__, "--child", env_id, str(int(unroll)), str(seconds)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=environ, check=False)
    if done.returncode:
        raise SystemExit(f"the timing process for {env_id} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        env_id, unroll, seconds = sys.argv[2], bool(int(sys.argv[3])), float(sys.argv[4])
        print(json.dumps(child(env_id, unroll, seconds)))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", default=",".join(ENVS), help="comma-separated env ids with a paper preset")
    p.add_argument("--repeats", type=int, default=2, help="fresh processes per setting, alternating")
    p.add_argument("--seconds", type=float, default=3.0, help="the steady-cost window")
    p.add_argument("--cache", action="store_true", help="also time a second process against a filled cache")
    args = p.parse_args()
    envs = args.envs.split(",")
    unknown = [e for e in envs if e not in ENVS]
    if unknown:
        raise SystemExit(f"--envs: no setting for {', '.join(unknown)}; choose from {', '.join(ENVS)}")
    if args.repeats < 1 or args.seconds <= 0:
        raise SystemExit("--repeats must be at least 1 and --seconds positive")
    started = header()
    results: dict[str, dict[str, list[dict]]] = {}
    for env_id in envs:
        results[env_id] = {"unrolled": [], "rolled": [], "unrolled, cache warm": [], "rolled, cache warm": []}
        for _ in range(args.repeats):
            for unroll in (True, False):
                name = "unrolled" if unroll else "rolled"
                if args.cache:
                    with tempfile.TemporaryDirectory() as tmp:
                        results[env_id][name].append(measure(env_id, unroll, args.seconds, tmp))
                        results[env_id][f"{name}, cache warm"].append(measure(env_id, unroll, args.seconds, tmp))
                else:
                    results[env_id][name].append(measure(env_id, unroll, args.seconds, None))
                print(env_id, name, results[env_id][name][-1], flush=True)

    def med(runs: list[dict], key: str) -> float:
        return float(np.median([r[key] for r in runs])) if runs and key in runs[0] else float("nan")

    lines = [
        f"- each setting in {args.repeats} fresh processes, alternating; medians; the steady cost over a "
        f"{args.seconds:g} s window of calls, each waited for its divergence flag (the trainer's way)",
        "- lower: tracing and lowering to XLA; compile: XLA's compilation; update ms: one env step's fused updates",
        "",
        "| task | setting | init (s) | warm-up lower + compile (s) | update lower + compile (s) | update ms a step |",
        "|---|---|---|---|---|---|",
    ]
    for env_id, by in results.items():
        for name, runs in by.items():
            if not runs:
                continue
            lines.append(
                f"| {env_id} | {name} | {med(runs, 'init_s'):.2f} | "
                f"{med(runs, 'warmup_lower_s'):.2f} + {med(runs, 'warmup_compile_s'):.2f} | "
                f"{med(runs, 'update_lower_s'):.2f} + {med(runs, 'update_compile_s'):.2f} | "
                f"{med(runs, 'update_ms'):.2f} |"
            )
    lines += [
        "",
        "| task | unrolling's extra start-up (s) | its saving per env step (ms) | pays off after |",
        "|---|---|---|---|",
    ]
    for env_id, by in results.items():
        u, r = by["unrolled"], by["rolled"]
        extra = sum(med(u, k) - med(r, k) for k in ("update_lower_s", "update_compile_s"))
        saving = med(r, "update_ms") - med(u, "update_ms")
        after = f"{extra / saving * 1000:,.0f} env steps" if saving > 0 else "never (no saving per step)"
        lines.append(f"| {env_id} | {extra:.2f} | {saving:.2f} | {after} |")
    record = {**started, "repeats": args.repeats, "seconds": args.seconds, "results": results}
    write_record("performance", "compile-cost-", record, "What compiling MEMB's programs costs a run", lines)


if __name__ == "__main__":
    main()
