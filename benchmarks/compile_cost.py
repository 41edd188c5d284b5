"""What compiling MEMB's programs costs at the start of a run, beside what each env step then costs.

    python benchmarks/compile_cost.py            # Pendulum-v1, InvertedPendulum-v5, HalfCheetah-v5
    python benchmarks/compile_cost.py --envs Pendulum-v1 --repeats 3

A short run pays its compilation once; the time-to-return protocol (`time_to_return.py`) counts it. For each task's
paper preset and each value of `unroll_rounds` (the m rounds' `lax.scan` unrolled or rolled), a fresh Python process
(nothing compiled yet; with `--cache`, an empty persistent cache that it fills) times:
  - `init`: the agent's parameters and optimizer states, as the trainer makes them (`init_state`: one jitted program),
    and then again as eager JAX ops (`agent.init`, what the trainer did before 1f0a490; second in the process, so its
    Python code paths are warm);
  - the model-only warm-up update and the fused per-env-step update: tracing and lowering, then XLA's compilation;
and, in one more process with both settings compiled, the fused update's steady cost: ms per call (one env step's m
rounds and model steps), in windows alternated between the settings.
With `--cache`, the same process is run a second time against the cache the first filled: what a second run costs,
with the settings of the `memb` command's cache (`memb.training.compilation_cache`).
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
from memb.training.compilation_cache import cache_settings  # noqa: E402

from _record import header, write_record  # noqa: E402

ENVS = ("Pendulum-v1", "InvertedPendulum-v5", "HalfCheetah-v5")


def replay(env_id: str) -> tuple[int, int, np.random.Generator, object]:
    """The task's observation and action sizes, a generator, and a full replay buffer of random transitions."""
    import gymnasium as gym
    from throughput import random_buffer

    env = gym.make(env_id)
    obs, act = env.observation_space.shape[0], env.action_space.shape[0]
    env.close()
    rng = np.random.default_rng(0)
    return obs, act, rng, random_buffer(rng, 2_000, obs, act)


def preset_agent(env_id: str, obs: int, act: int, unroll: bool):
    """MEMB with the task's paper preset and the rounds unrolled or rolled."""
    from memb.agents import MEMB
    from memb.experiments import resolve

    run, _ = resolve({"env": env_id, "unroll_rounds": unroll})
    return MEMB(run.agent, obs, act)


def cold_start(env_id: str, unroll: bool) -> dict:
    """Runs in a fresh process: the start-up timings of one (task, unroll) setting."""
    t0 = time.perf_counter()
    import jax

    obs, act, rng, buf = replay(env_id)
    agent = preset_agent(env_id, obs, act, unroll)
    imported = time.perf_counter() - t0  # env, agent and buffer set-up (jax is imported with this module since 3205ebb)

    from memb.training.trainer import init_state

    t = time.perf_counter()
    state = jax.block_until_ready(init_state(agent, jax.random.PRNGKey(0)))
    init = time.perf_counter() - t
    t = time.perf_counter()
    jax.block_until_ready(agent.init(jax.random.PRNGKey(0)))
    eager_init = time.perf_counter() - t
    batch = agent.config.batch_size
    out = {"import_s": imported, "init_s": init, "eager_init_s": eager_init}
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
        lowered.compile()
        t2 = time.perf_counter()
        out[f"{name}_lower_s"], out[f"{name}_compile_s"] = t1 - t, t2 - t1
    return out


def paired(env_id: str, pairs: int, seconds: float) -> dict:
    """Runs in a fresh process: the fused update's steady ms per env step, rolled and unrolled, both compiled first,
    then `pairs` rounds of one window each, the order alternated (the machine's drift hits both alike)."""
    import jax

    obs, act, rng, buf = replay(env_id)
    calls = {}
    for unroll in (True, False):
        agent = preset_agent(env_id, obs, act, unroll)
        n = agent.batches_per_step(agent.config.model_warmup_steps)
        state = agent.init(jax.random.PRNGKey(0))
        batches = buf.sample(rng, n, agent.config.batch_size)
        compiled = agent._update.lower(state, batches).compile()
        calls["unrolled" if unroll else "rolled"] = (compiled, state, n, agent.config.batch_size)

    def window(name: str) -> float:  # ms per call, each call's divergence flag waited for (the trainer's way)
        compiled, state, n, batch = calls[name]
        state, info = compiled(state, buf.sample(rng, n, batch))
        np.asarray(info["finite"])
        count, t = 0, time.perf_counter()
        while time.perf_counter() - t < seconds:
            state, info = compiled(state, buf.sample(rng, n, batch))
            np.asarray(info["finite"])
            count += 1
        return 1000 * (time.perf_counter() - t) / count

    out = {"unrolled": [], "rolled": []}
    for i in range(pairs):
        for name in ("unrolled", "rolled") if i % 2 == 0 else ("rolled", "unrolled"):
            out[name].append(window(name))
    return out


def spawn(*argv: str, cache: str | None = None) -> dict:
    """One fresh process running `main(argv)`; with `cache`, JAX's persistent compilation cache in that folder."""
    environ = dict(os.environ)
    for k in [k for k in environ if k.startswith("JAX_") and "CACHE" in k]:
        del environ[k]  # a cache set in the caller's environment would hide the cold cost
    if cache is not None:  # as the `memb` command sets it
        environ.update(cache_settings({"MEMB_COMPILATION_CACHE": cache}))
    done = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, env=environ, check=False)
    if done.returncode:
        raise SystemExit(f"the timing process {' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--cold-start"]:
        print(json.dumps(cold_start(sys.argv[2], bool(int(sys.argv[3])))))
        return
    if sys.argv[1:2] == ["--paired"]:
        print(json.dumps(paired(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", default=",".join(ENVS), help="comma-separated env ids with a paper preset")
    p.add_argument("--repeats", type=int, default=2, help="fresh processes per setting, alternating")
    p.add_argument("--pairs", type=int, default=8, help="steady-cost rounds: one window of each setting")
    p.add_argument("--seconds", type=float, default=1.0, help="each steady-cost window")
    p.add_argument("--cache", action="store_true", help="also time a second process against a filled cache")
    args = p.parse_args()
    envs = args.envs.split(",")
    unknown = [e for e in envs if e not in ENVS]
    if unknown:
        raise SystemExit(f"--envs: no setting for {', '.join(unknown)}; choose from {', '.join(ENVS)}")
    if args.repeats < 1 or args.pairs < 1 or args.seconds <= 0:
        raise SystemExit("--repeats and --pairs must be at least 1 and --seconds positive")
    started = header()
    results: dict[str, dict] = {}
    for env_id in envs:
        starts: dict[str, list[dict]] = {
            "unrolled": [],
            "rolled": [],
            "unrolled, cache warm": [],
            "rolled, cache warm": [],
        }
        for _ in range(args.repeats):
            for unroll in (True, False):
                name = "unrolled" if unroll else "rolled"
                with tempfile.TemporaryDirectory() as tmp:
                    starts[name].append(
                        spawn("--cold-start", env_id, str(int(unroll)), cache=tmp if args.cache else None)
                    )
                    if args.cache:
                        starts[f"{name}, cache warm"].append(spawn("--cold-start", env_id, str(int(unroll)), cache=tmp))
                print(env_id, name, starts[name][-1], flush=True)
        steady = spawn("--paired", env_id, str(args.pairs), str(args.seconds))
        results[env_id] = {"start": {k: v for k, v in starts.items() if v}, "steady_ms": steady}
        print(env_id, "steady", steady, flush=True)

    def med(runs: list[dict], key: str) -> float:
        return float(np.median([r[key] for r in runs])) if runs and key in runs[0] else float("nan")

    lines = [
        f"- start-up: each setting in {args.repeats} fresh processes, alternating, medians; lower: tracing and "
        "lowering to XLA; compile: XLA's compilation"
        + ("; cache warm: a second process against the cache the first filled" if args.cache else ""),
        f"- steady cost: both settings compiled in one process, then {args.pairs} rounds of one {args.seconds:g} s "
        "window each, the order alternated; ms per call of the fused update (one env step's updates), each call's "
        "divergence flag waited for (the trainer's way); medians",
        "",
        "| task | setting | init (s) | eager init, after it (s) | warm-up lower + compile (s) "
        "| update lower + compile (s) |",
        "|---|---|---|---|---|---|",
    ]
    for env_id, r in results.items():
        for name, runs in r["start"].items():
            lines.append(
                f"| {env_id} | {name} | {med(runs, 'init_s'):.2f} | {med(runs, 'eager_init_s'):.2f} | "
                f"{med(runs, 'warmup_lower_s'):.2f} + {med(runs, 'warmup_compile_s'):.2f} | "
                f"{med(runs, 'update_lower_s'):.2f} + {med(runs, 'update_compile_s'):.2f} |"
            )
    lines += [
        "",
        "| task | update ms a step, unrolled | rolled | unrolled faster in | unrolling's extra start-up (s) | "
        "pays off after |",
        "|---|---|---|---|---|---|",
    ]
    for env_id, r in results.items():
        u, ro = r["start"]["unrolled"], r["start"]["rolled"]
        extra = sum(med(u, k) - med(ro, k) for k in ("update_lower_s", "update_compile_s"))
        su, sr = np.array(r["steady_ms"]["unrolled"]), np.array(r["steady_ms"]["rolled"])
        saving = float(np.median(sr - su))  # per pair, then the median
        if extra <= 0:
            after = "at once (no extra start-up)"
        elif saving > 0:
            after = f"{extra / saving * 1000:,.0f} env steps of full updates"
        else:
            after = "never (no saving per step)"
        lines.append(
            f"| {env_id} | {np.median(su):.2f} | {np.median(sr):.2f} | {int((su < sr).sum())} of {len(su)} pairs | "
            f"{extra:.2f} | {after} |"
        )
    record = {**started, "repeats": args.repeats, "pairs": args.pairs, "seconds": args.seconds, "results": results}
    write_record("performance", "compile-cost-", record, "What compiling MEMB's programs costs a run", lines)


if __name__ == "__main__":
    main()
