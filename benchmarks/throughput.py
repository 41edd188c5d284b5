"""Throughput of MEMB's update and of the real trainer, against the machine's float32 matmul roofline.

    python benchmarks/throughput.py            # writes benchmarks/results/throughput/<date>.json and .md
    python benchmarks/throughput.py --only batch256-all256 --trainer-steps 0 --pairs 10   # the goal's shape alone

Measured in one run, on an otherwise idle machine (a timing taken while anything else runs is worthless):
  1. the roofline: float32 256x256x256 matrix products through XLA (what memb's updates run on);
  2. the fused update alone (m rounds + model steps of one env step, one jitted call) on replay batches;
  3. the real trainer (`memb.training.train`) on HalfCheetah-v5: updates/s and env steps/s from its metrics.
Each for two settings: batch 256 with every MLP (256, 256), and the authors' (batch 100, models (256, 128));
and the update alone also over the shape grid batch {100, 256} x every MLP {256, 300} wide x m {1, 5}.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from memb.agents import MEMB  # noqa: E402
from memb.agents.memb import update_flops  # noqa: E402
from memb.experiments import resolve  # noqa: E402
from memb.training import ReplayBuffer, train  # noqa: E402
from memb.training.io import write_bytes_atomic, write_json_atomic  # noqa: E402

from _record import describe, header  # noqa: E402

OBS, ACT = 17, 6  # HalfCheetah-v5
SETTINGS = {
    "batch256-all256": {
        "batch_size": 256,
        "policy_hidden": "256,256",
        "value_hidden": "256,256",
        "model_hidden": "256,256",
    },
    "authors": {},  # the paper preset for HalfCheetah-v5: batch 100, (256, 256) policy/value, (256, 128) models
}


SHAPES = {
    f"b{b}-h{h}-m{m}": {
        "batch_size": b,
        "policy_hidden": f"{h},{h}",
        "value_hidden": f"{h},{h}",
        "model_hidden": f"{h},{h}",
        "updates_per_step": m,
    }
    for b in (100, 256)
    for h in (256, 300)
    for m in (1, 5)
}


def median_of(fn, repeats: int = 3) -> float:
    return float(np.median([fn() for _ in range(repeats)]))


def chain_window():
    """The roofline's kernel compiled: float32 256x256x256 products chained through XLA; returns `window(seconds)`,
    the GFLOP/s of one timing window."""
    n, chain = 256, 64
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32) / 16.0

    @jax.jit
    def run(x):
        return jax.lax.fori_loop(0, chain, lambda i, y: jnp.tanh(y @ a), x)

    x = jax.block_until_ready(run(a))

    def window(seconds: float) -> float:
        calls, t0 = 0, time.perf_counter()
        y = x
        while time.perf_counter() - t0 < seconds:
            y = run(y)
            calls += 1
        jax.block_until_ready(y)
        return calls * chain * 2 * n**3 / (time.perf_counter() - t0) / 1e9

    return window


def matmul_gflops(seconds: float = 3.0) -> float:
    window = chain_window()
    return median_of(lambda: window(seconds))


def beside_roofline(update: Callable[[float], float], flops_per_round: float, seconds: float, pairs: int = 3) -> dict:
    """The update's windows alternated with the roofline's, so that each fraction is against the chain timed right
    before it (a machine that drifts over minutes otherwise moves the two apart). Medians over the pairs."""
    chain = chain_window()
    rounds, roofs, fractions = [], [], []
    for _ in range(pairs):
        roofs.append(chain(seconds / 2))
        rounds.append(update(seconds))
        fractions.append(rounds[-1] * flops_per_round / 1e9 / roofs[-1])
    return {
        "updates_per_s": float(np.median(rounds)),
        "matmul_gflops": float(np.median(roofs)),
        "roofline_fraction": float(np.median(fractions)),
        "roofline_fraction_range": [float(min(fractions)), float(max(fractions))],
    }


def random_buffer(rng: np.random.Generator, size: int = 10_000, obs: int = OBS, act: int = ACT) -> ReplayBuffer:
    """A full replay buffer of random transitions: what a timing of the update samples from."""
    buf = ReplayBuffer(size, obs, act)
    for _ in range(size):
        buf.add(rng.normal(size=obs), rng.uniform(-1, 1, act), rng.normal(), rng.normal(size=obs), False)
    return buf


def update_rate(agent: MEMB, seconds: float = 5.0) -> float:
    """Rounds (actor-critic updates) per second of the fused per-env-step update, replay sampling included."""
    window = update_window(agent)
    return median_of(lambda: window(seconds))


def update_window(agent: MEMB):
    """The update compiled and run once; returns `window(seconds)`, the rounds/s of one timing window (windows of
    several variants can then alternate without compiling again)."""
    rng = np.random.default_rng(0)
    buf = random_buffer(rng)
    # every leaf its own buffer (init shares the target's with the online network), so that a donating update works
    state = jax.tree.map(lambda x: x.copy(), agent.init(jax.random.PRNGKey(0)))
    step = agent.update_programs()[-1][0]  # the full update a long run spends its time in (unrolled)
    n = agent.batches_per_step(step)
    state, _ = agent.update(state, buf.sample(rng, n, agent.config.batch_size), step)
    jax.block_until_ready(state)

    def window(seconds: float) -> float:
        nonlocal state
        calls, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            state, _ = agent.update(state, buf.sample(rng, n, agent.config.batch_size), step)
            calls += 1
        jax.block_until_ready(state)
        return calls * agent.config.updates_per_step / (time.perf_counter() - t0)

    return window


def trainer_rate(overrides: dict, steps: int) -> dict:
    """A short real run: 1000 random steps, 1000 model-only steps, then full updates; the last epoch's rates."""
    run, _ = resolve(
        {
            **overrides,
            "env": "HalfCheetah-v5",
            "steps": steps,
            "eval_episodes": 1,
            "random_steps": 1000,
            "model_warmup_steps": 1000,
            "unroll_rounds_after": 0,  # the unrolled update from the warm-up's end, as a long run's later steps
        }
    )
    with tempfile.TemporaryDirectory() as d:
        result = train(run, Path(d) / "run", progress=False, tensorboard=False)
    last = result.metric_rows[-1]
    return {"updates_per_s": last["updates_per_s"], "env_steps_per_s": last["env_steps_per_s"]}


def rate(value: float | None) -> str:
    return "not run" if value is None else f"{value:.1f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trainer-steps", type=int, default=4000, help="0: skip the short real trainer runs")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--pairs", type=int, default=3, help="roofline and update windows alternated this many times each")
    p.add_argument(
        "--only",
        default="",
        help=f"comma-separated settings and shapes to time (default all): {', '.join([*SETTINGS, *SHAPES])}",
    )
    args = p.parse_args()
    only = [n for n in args.only.split(",") if n]
    unknown = [n for n in only if n not in SETTINGS and n not in SHAPES]
    if unknown:
        raise SystemExit(f"--only: unknown {', '.join(unknown)}; choose from {', '.join([*SETTINGS, *SHAPES])}")
    if args.pairs < 1:
        raise SystemExit(f"--pairs must be at least 1, got {args.pairs}")
    settings = {n: o for n, o in SETTINGS.items() if not only or n in only}
    grid = {n: o for n, o in SHAPES.items() if not only or n in only}
    started = header()

    roofline = matmul_gflops()
    print(f"float32 matmul 256^3 through XLA: {roofline:.1f} GFLOP/s", flush=True)
    rows = {}
    for name, overrides in settings.items():
        run, _ = resolve({**overrides, "env": "HalfCheetah-v5"})
        agent = MEMB(run.agent, OBS, ACT)
        flops = update_flops(run.agent, OBS, ACT)
        per_round = flops["env_step"] / run.agent.updates_per_step  # all the matmul work of an env step, per round
        timed = beside_roofline(update_window(agent), per_round, args.seconds, args.pairs)
        ups = timed["updates_per_s"]
        trainer = trainer_rate(overrides, args.trainer_steps) if args.trainer_steps else {}
        gflops = ups * per_round / 1e9
        rows[name] = {
            "batch_size": run.agent.batch_size,
            "updates_per_step": run.agent.updates_per_step,
            "policy_hidden": run.agent.policy_hidden,
            "value_hidden": run.agent.value_hidden,
            "model_hidden": run.agent.model_hidden,
            "gflop_per_round": flops["round"] / 1e9,
            "gflop_per_env_step": flops["env_step"] / 1e9,
            "update_only_updates_per_s": ups,
            "update_only_gflops": gflops,
            "roofline_gflops": timed["matmul_gflops"],
            "roofline_fraction": timed["roofline_fraction"],
            "roofline_fraction_range": timed["roofline_fraction_range"],
            "trainer_updates_per_s": trainer.get("updates_per_s"),  # None: --trainer-steps 0 skipped it
            "trainer_env_steps_per_s": trainer.get("env_steps_per_s"),
        }
        print(
            f"{name}: update alone {ups:.1f} updates/s = {gflops:.1f} GFLOP/s = {timed['roofline_fraction']:.0%} of "
            f"the roofline beside it ({timed['matmul_gflops']:.1f}); trainer "
            f"{rate(rows[name]['trainer_updates_per_s'])} updates/s, "
            f"{rate(rows[name]['trainer_env_steps_per_s'])} env steps/s",
            flush=True,
        )
    shapes = {}
    for name, overrides in grid.items():
        run, _ = resolve({**overrides, "env": "HalfCheetah-v5"})
        per_round = update_flops(run.agent, OBS, ACT)["env_step"] / run.agent.updates_per_step
        timed = beside_roofline(update_window(MEMB(run.agent, OBS, ACT)), per_round, args.seconds, args.pairs)
        gflops = timed["updates_per_s"] * per_round / 1e9
        shapes[name] = {**timed, "gflops": gflops}
        print(
            f"{name}: {timed['updates_per_s']:.1f} updates/s = {gflops:.1f} GFLOP/s = "
            f"{timed['roofline_fraction']:.0%} of {timed['matmul_gflops']:.1f}",
            flush=True,
        )
    record = {**started, "matmul_gflops": roofline, "pairs": args.pairs, "settings": rows, "shapes": shapes}
    out = Path(__file__).parent / "results" / "throughput"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H%M")
    write_json_atomic(out / f"{stamp}.json", record)

    def span(r: dict) -> str:
        low, high = r["roofline_fraction_range"]
        return f"{low:.0%}–{high:.0%}"

    lines = [
        "# MEMB throughput on HalfCheetah-v5 shapes",
        "",
        f"- command: `{record['command']}`",
        f"- commit: {record['commit']}",
        f"- date: {record['date']}",
        f"- machine: {describe(record['machine'])}",
        f"- float32 matmul roofline (256^3 through XLA): {roofline:.1f} GFLOP/s at the start; each fraction below is "
        f"the median over {args.pairs} pairs of a roofline window and an update window right after it",
        "",
        "| setting | batch | GFLOP/round | update alone (rounds/s) | GFLOP/s | roofline beside it (GFLOP/s) "
        "| of the roofline (range) | trainer updates/s | trainer env steps/s |",
        "|---|---|---|---|---|---|---|---|---|",
        *[
            f"| {n} | {r['batch_size']} | {r['gflop_per_round']:.3f} | {r['update_only_updates_per_s']:.1f} | "
            f"{r['update_only_gflops']:.1f} | {r['roofline_gflops']:.1f} | {r['roofline_fraction']:.0%} "
            f"({span(r)}) | "
            f"{rate(r['trainer_updates_per_s'])} | "
            f"{rate(r['trainer_env_steps_per_s'])} |"
            for n, r in rows.items()
        ],
        "",
        "The update alone over the shape grid (batch b, every MLP h wide, m rounds per env step):",
        "",
        "| shape | rounds/s | GFLOP/s | roofline beside it (GFLOP/s) | of the roofline (range) |",
        "|---|---|---|---|---|",
        *[
            f"| {n} | {r['updates_per_s']:.1f} | {r['gflops']:.1f} | {r['matmul_gflops']:.1f} | "
            f"{r['roofline_fraction']:.0%} ({span(r)}) |"
            for n, r in shapes.items()
        ],
        "",
        "A round is one actor-critic update (model step, policy step through the models, value step, Polyak);",
        "an env step after the warm-up is m rounds plus the extra model step(s). GFLOP/s counts all of that work.",
    ]
    write_bytes_atomic(out / f"{stamp}.md", ("\n".join(lines) + "\n").encode())
    print(f"written {out / stamp}.json and .md")


if __name__ == "__main__":
    main()
