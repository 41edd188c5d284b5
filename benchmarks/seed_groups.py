"""Five seeds' updates in one process: one vmapped call, or vmapped groups updating at once from threads (waiting for
each other after every update), against five single updates one after the other, and against the ceiling of one
single-core run per core. (The trainer's groups do not wait for each other; benchmarks/multiseed.py measures it.)

    python benchmarks/seed_groups.py               # batch 100 and 256, HalfCheetah-v5 shapes, the paper preset
    python benchmarks/seed_groups.py --batch 100

The update alone (no env, no evaluation): what `memb train --seeds` runs per env step. The ceiling is what the
machine's cores give when each runs a single-seed update on its own core with nothing shared: the single-seed rate
measured in a child process pinned to one core (taskset), times the number of cores. Written to
benchmarks/results/performance/seed-groups-<date>.json and .md. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from memb.agents import MEMB  # noqa: E402
from memb.experiments import resolve  # noqa: E402
from memb.training import ReplayBuffer  # noqa: E402

from _record import header, write_record  # noqa: E402

OBS, ACT = 17, 6  # HalfCheetah-v5


def stack(trees):
    return jax.tree.map(lambda *x: jnp.stack(x), *trees)


def per_second(fn, seconds: float) -> float:
    """Calls of fn per second (after one call to compile), the median of three timings."""
    fn()
    rates = []
    for _ in range(3):
        calls, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            fn()
            calls += 1
        rates.append(calls / (time.perf_counter() - t0))
    return float(np.median(rates))


def measure(batch: int, seeds: int, groups: int, seconds: float, only_single: bool) -> dict[str, float]:
    """Env steps per second, all seeds together, of each way to run `seeds` seeds' updates."""
    run, _ = resolve({"env": "HalfCheetah-v5", "batch_size": batch})
    agent = MEMB(run.agent, OBS, ACT)
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(10_000, OBS, ACT)
    for _ in range(10_000):
        buf.add(rng.normal(size=OBS), rng.uniform(-1, 1, ACT), rng.normal(), rng.normal(size=OBS), False)
    step = agent.update_programs()[-1][0]  # the full update a long run spends its time in (unrolled)
    n = agent.batches_per_step(step)
    fn = agent.update_function(step)
    single, vmapped = jax.jit(fn), jax.jit(jax.vmap(fn))
    states = [agent.init(jax.random.PRNGKey(i)) for i in range(seeds)]
    batches = [buf.sample(rng, n, batch) for _ in range(seeds)]

    def sequential():
        for i in range(seeds):
            states[i], info = single(states[i], batches[i])
            np.asarray(info["finite"])

    rates = {"sequential": seeds * per_second(sequential, seconds)}
    if only_single:
        return rates
    parts = np.array_split(np.arange(seeds), groups)
    group_states = [stack([states[i] for i in p]) for p in parts]
    group_batches = [stack([batches[i] for i in p]) for p in parts]
    pool = ThreadPoolExecutor(groups)

    def one_group(g):
        group_states[g], info = vmapped(group_states[g], group_batches[g])
        np.asarray(info["finite"])

    def all_vmapped():
        for g in range(groups):
            one_group(g)

    def threads():
        for f in [pool.submit(one_group, g) for g in range(groups)]:
            f.result()

    all_states, all_batches = stack(states), stack(batches)

    def one_call():
        nonlocal all_states
        all_states, info = vmapped(all_states, all_batches)
        np.asarray(info["finite"])

    rates["one_vmapped_call"] = seeds * per_second(one_call, seconds)
    rates["groups_one_after_another"] = seeds * per_second(all_vmapped, seconds)
    rates["groups_in_threads"] = seeds * per_second(threads, seconds)
    rates["sequential_again"] = seeds * per_second(sequential, seconds)
    pool.shutdown()
    return rates


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", default="100,256", help="batch sizes, comma-separated")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=4.0, help="per timing (three timings each)")
    p.add_argument("--single-core-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    cores = len(os.sched_getaffinity(0))
    if args.single_core_child:  # the ceiling's child: one core, sequential single updates only
        out = {b: measure(int(b), args.seeds, 1, args.seconds, True)["sequential"] for b in args.batch.split(",")}
        print(json.dumps(out))
        return
    started = header()
    rows = {}
    for b in args.batch.split(","):
        rates = measure(int(b), args.seeds, cores, args.seconds, False)
        child = subprocess.run(
            ["taskset", "-c", str(min(os.sched_getaffinity(0))), sys.executable, __file__, "--single-core-child",
             "--batch", b, "--seeds", str(args.seeds), "--seconds", str(args.seconds)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        one_core = json.loads(child.stdout.strip().splitlines()[-1])[b]
        rates["ceiling_one_run_per_core"] = cores * one_core
        rates["one_core_sequential"] = one_core
        rows[int(b)] = rates
        print(f"batch {b}: " + ", ".join(f"{k} {v:.1f}" for k, v in rates.items()), flush=True)
    record = {**started, "seeds": args.seeds, "groups": cores, "env_steps_per_s": rows}
    lines = [
        f"- {args.seeds} seeds, MEMB's fused update after one env step (HalfCheetah-v5 shapes, the paper preset with "
        f"the batch replaced), {cores} groups of seeds (one per core); env steps per second, all seeds together, "
        "median of three timings",
        "",
        "| batch | sequential single updates | one vmapped call | groups one after another | groups in threads | "
        "ceiling: one single-core run per core | threads / sequential |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {b} | {r['sequential']:.1f} (again: {r['sequential_again']:.1f}) | {r['one_vmapped_call']:.1f} | "
            f"{r['groups_one_after_another']:.1f} | {r['groups_in_threads']:.1f} | {r['ceiling_one_run_per_core']:.1f} "
            f"| {r['groups_in_threads'] / ((r['sequential'] + r['sequential_again']) / 2):.2f}x |"
            for b, r in rows.items()
        ],
    ]
    title = "Seeds' updates in one process: vmapped groups in threads"
    write_record("performance", "seed-groups-", record, title, lines)


if __name__ == "__main__":
    main()
