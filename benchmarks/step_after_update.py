"""Why memb SAC's whole env step costs more than its parts: acting and stepping the env right after an update.

    python benchmarks/step_after_update.py    # writes benchmarks/results/baselines/step-after-update-<date>.json/.md

`sac_step_breakdown.py` times the parts of a SAC env step one at a time, each back to back, and finds about 1 ms per
step that none of them accounts for ("rest"). The trainer does not run its parts back to back: it acts and steps the
env right after a 5–6 ms update, which has just streamed the agent state, its Adam moments and the batch's
activations through the caches. This script times, HalfCheetah-v5, SAC at batch 256, (256, 256):
  alone           the jitted act (one observation) and one env step, each back to back;
  after update    the same, each right after a waited update (the trainer acts right after one; its env step
                  follows the act);
  after sweep     the same, right after reading and writing a NumPy array of `--sweep-mib` MiB and no JAX work: if
                  these are as slow as "after update", the cost is the caches, not JAX's threads waking up;
  step            a whole step in the trainer's order (act, env step, sample, update, wait), and the same with the act
                  computed inside the update's jitted call ("fused": one dispatch fewer per env step), a candidate;
in milliseconds per call, alternating the variants for `--rounds` rounds (means and spreads over the rounds).
Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import gymnasium as gym
import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from memb.experiments import resolve  # noqa: E402
from memb.training.buffer import ReplayBuffer  # noqa: E402
from memb.training.trainer import build_agent  # noqa: E402

from _record import header, write_record  # noqa: E402

ENV = "HalfCheetah-v5"
SETTINGS = {"batch_size": 256, "policy_hidden": "256,256", "value_hidden": "256,256", "updates_per_step": 1}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=200, help="timed calls of each variant per round")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--sweep-mib", type=float, default=16.0)
    args = p.parse_args()
    started = header()

    run, _ = resolve({"env": ENV, **SETTINGS}, algo="sac")
    env = gym.make(ENV)
    env.reset(seed=0)
    agent = build_agent(run, env)
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(1_000_000, agent.obs_dim, agent.act_dim)  # the trainer's capacity for HalfCheetah
    for _ in range(20_000):
        buf.add(
            rng.normal(size=agent.obs_dim),
            rng.uniform(-1, 1, agent.act_dim),
            rng.normal(),
            rng.normal(size=agent.obs_dim),
            False,
        )
    state = agent.init(jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(1)
    obs = rng.normal(size=agent.obs_dim).astype(np.float32)
    actions = rng.uniform(-1, 1, (1000, agent.act_dim)).astype(np.float32)
    sweep = np.ones(int(args.sweep_mib * 2**20 / 8))
    step = agent.config.random_steps  # past the random phase
    update_fn = agent.update_function(step)

    def fused_fn(state, batch, obs, key):  # the update, then the next action from the updated policy
        state, info = update_fn(state, batch)
        action, key = agent.act_fn(state.params["policy"], obs, key)
        return state, info, action, key

    fused = jax.jit(fused_fn)
    i_env = 0

    def env_step():
        nonlocal i_env
        _, _, terminated, truncated, _ = env.step(actions[i_env % 1000])
        i_env += 1
        if terminated or truncated:
            env.reset()

    def update():
        nonlocal state
        state, info = agent.update(state, buf.sample(rng, 1, agent.config.batch_size), step)
        np.asarray(info["finite"])  # what the trainer waits for

    def act():
        nonlocal key
        _, key = agent.act(state, obs, key)

    def do_sweep():
        sweep[:] += 1.0

    def timed(fn, before=None, calls=args.calls) -> float:
        """Mean ms of `fn` over `calls` calls, each after `before` (untimed)."""
        total = 0.0
        for _ in range(calls):
            if before is not None:
                before()
            t = time.perf_counter()
            fn()
            total += time.perf_counter() - t
        return total / calls * 1e3

    def whole_separate():
        act()
        env_step()
        update()

    def whole_fused():
        nonlocal state, key
        env_step()
        state, info, action, key = fused(state, buf.sample(rng, 1, agent.config.batch_size), obs, key)
        np.asarray(info["finite"])
        np.asarray(action)

    variants = {  # name: (the timed call, what runs untimed before each)
        "act alone": (act, None),
        "act after update": (act, update),
        "act after sweep": (act, do_sweep),
        "env alone": (env_step, None),
        "env after update": (env_step, update),
        "env after sweep": (env_step, do_sweep),
        "update alone": (update, None),
        "step, separate act": (whole_separate, None),
        "step, fused act": (whole_fused, None),
    }
    for fn, before in variants.values():  # compile and warm every path
        timed(fn, before, calls=5)
    rounds: dict[str, list[float]] = {k: [] for k in variants}
    for r in range(args.rounds):
        for name, (fn, before) in variants.items():
            rounds[name].append(timed(fn, before))
        print(f"round {r}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in rounds.items()), flush=True)
    mean = {k: float(np.mean(v)) for k, v in rounds.items()}
    lo = {k: float(np.min(v)) for k, v in rounds.items()}
    hi = {k: float(np.max(v)) for k, v in rounds.items()}
    record = {**started, "env": ENV, "settings": SETTINGS, "sweep_mib": args.sweep_mib, "calls": args.calls,
              "rounds": rounds, "mean": mean}  # fmt: skip
    d = {k: mean[k] - mean[k.split()[0] + " alone"] for k in mean if " after " in k}  # the extra cost of each
    lines = [
        f"- {ENV}, SAC at batch 256, (256, 256); {args.calls} calls a variant a round, {args.rounds} alternating "
        f"rounds; the sweep reads and writes {args.sweep_mib:g} MiB",
        "",
        "| variant | ms per call, mean | min–max over rounds |",
        "|---|---|---|",
        *[f"| {k} | {mean[k]:.3f} | {lo[k]:.3f}–{hi[k]:.3f} |" for k in variants],
        "",
        f"Acting right after an update costs {d['act after update']:+.3f} ms against acting back to back, and the env "
        f"step {d['env after update']:+.3f} ms; after the sweep alone {d['act after sweep']:+.3f} and "
        f"{d['env after sweep']:+.3f} ms.",
        f"The act fused into the update's call: {mean['step, fused act'] - mean['step, separate act']:+.3f} ms per "
        f"whole step ({mean['step, separate act'] / mean['step, fused act']:.3f}x the separate act's rate).",
    ]
    write_record("baselines", "step-after-update-", record, "Acting and stepping the env right after an update", lines)


if __name__ == "__main__":
    main()
