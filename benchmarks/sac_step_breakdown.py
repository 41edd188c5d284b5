"""Where one SAC env step's time goes, memb against Stable-Baselines3 and SBX, side by side in one invocation.

    pip install torch==2.13.0 stable-baselines3 sbx-rl==0.28.0    # benchmark-only
    python benchmarks/sac_step_breakdown.py [--no-sbx]    # writes benchmarks/results/baselines/sac-step-<date>.json/.md

SBX is SB3's API on JAX (Flax and Optax, like memb): the JAX peer. Every side: HalfCheetah-v5, batch 256,
(256, 256) networks, one gradient step per env step, twin Q with targets and automatic α. For each side, in milliseconds
per env step:
  update   one gradient step on a batch drawn from a filled replay buffer, sampling included, waited for
           (memb's trainer waits for every update: it reads the divergence check before acting; SB3's and SBX's
           `train` read their losses back);
  act      one stochastic action for one observation (memb: the jitted policy; SB3 and SBX: `predict`);
  env      one `HalfCheetah-v5` step with a random action;
  whole    the training loop's own rate after its warm-up (as `agent_speed.py` measures it);
  rest     whole − (update + act + env): the loop's bookkeeping (buffer writes, metrics, wrappers);
and, for memb, the update without its divergence check (the finiteness reduction over every parameter).
The sides alternate twice, and each figure is the mean of the two. It answers whether memb's SAC is bound by its
update, and what the update alone would have to reach for a 2× whole-loop speed-up. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from agent_speed import memb_rate, sb3_sac, sb3_sac_rate  # noqa: E402

from memb.agents import SAC  # noqa: E402
from memb.experiments import resolve  # noqa: E402
from memb.training.buffer import ReplayBuffer  # noqa: E402

from _record import header, write_record  # noqa: E402

ENV = "HalfCheetah-v5"
SETTINGS = {"batch_size": 256, "policy_hidden": "256,256", "value_hidden": "256,256", "updates_per_step": 1}


def per_call_ms(fn, seconds: float) -> float:
    """Milliseconds per call of `fn` (after one untimed call), over about `seconds`."""
    fn()
    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        calls += 1
    return (time.perf_counter() - t0) / calls * 1e3


def env_ms(seconds: float) -> float:
    env = gym.make(ENV)
    env.reset(seed=0)
    rng = np.random.default_rng(0)

    def step():
        _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
        if terminated or truncated:
            env.reset()

    ms = per_call_ms(step, seconds)
    env.close()
    return ms


def memb_parts(seconds: float) -> dict[str, float]:
    env = gym.make(ENV)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    run, _ = resolve({"env": ENV, **SETTINGS}, algo="sac")
    agent = SAC(run.agent, obs_dim, act_dim)
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(20_000, obs_dim, act_dim)
    for _ in range(20_000):
        buf.add(rng.normal(size=obs_dim), rng.uniform(-1, 1, act_dim), rng.normal(), rng.normal(size=obs_dim), False)
    state = agent.init(jax.random.PRNGKey(0))
    step = agent.config.random_steps  # past the random phase
    key = jax.random.PRNGKey(1)
    obs = rng.normal(size=obs_dim).astype(np.float32)

    def update():
        nonlocal state
        state, info = agent.update(state, buf.sample(rng, 1, agent.config.batch_size), step)
        np.asarray(info["finite"])  # what the trainer waits for

    def act():
        nonlocal key
        _, key = agent.act(state, obs, key)

    parts = {"update": per_call_ms(update, seconds), "act": per_call_ms(act, seconds)}
    # the same update without its divergence check (a measurement, never a setting)
    agent.health = lambda state, info: jnp.ones(len(agent.components), bool)
    agent._update = jax.jit(agent.update_fn)
    parts["update_no_check"] = per_call_ms(update, seconds)
    env.close()
    return parts


def sb3_parts(seconds: float, lib: str) -> dict[str, float]:
    env = gym.make(ENV)
    model = sb3_sac(env, lib)
    model.learn(total_timesteps=1200)  # fills the buffer past learning_starts and sets up the logger
    obs = env.observation_space.sample()
    parts = {
        "update": per_call_ms(lambda: model.train(gradient_steps=1, batch_size=256), seconds),
        "act": per_call_ms(lambda: model.predict(obs, deterministic=False), seconds),
    }
    env.close()
    return parts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=5.0, help="per timed part")
    p.add_argument("--steps", type=int, default=3000, help="measured env steps of each whole-loop run")
    p.add_argument("--warm", type=int, default=2000)
    p.add_argument("--no-sbx", action="store_true", help="memb and SB3 only")
    args = p.parse_args()
    started = header()
    sides = ("memb", "sb3") if args.no_sbx else ("memb", "sb3", "sbx")
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    for i in range(2):  # alternating, so that a drift of the machine hits every side alike
        for side in sides:
            parts = memb_parts(args.seconds) if side == "memb" else sb3_parts(args.seconds, side)
            parts["env"] = env_ms(args.seconds)
            if side == "memb":
                whole = memb_rate("sac", ENV, args.steps, args.warm, SETTINGS)
            else:
                whole = sb3_sac_rate(ENV, args.steps, args.warm, side)
            parts["whole"] = 1e3 / whole
            parts["rest"] = parts["whole"] - parts["update"] - parts["act"] - parts["env"]
            parts.setdefault("update_no_check", float("nan"))
            runs[side].append(parts)
            print(f"round {i} {side}: " + ", ".join(f"{k} {v:.3f} ms" for k, v in parts.items()), flush=True)
    mean = {side: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for side, rs in runs.items()}
    m, s = mean["memb"], mean["sb3"]
    # for a 2x whole-loop speed-up with memb's act, env and rest as they are:
    needed = s["whole"] / 2 - (m["whole"] - m["update"])
    record = {**started, "env": ENV, "settings": SETTINGS, "runs": runs, "mean": mean, "update_needed_ms": needed}
    keys = ("update", "update_no_check", "act", "env", "rest", "whole")
    names = {"sb3": "SB3", "sbx": "SBX"}
    peers = [side for side in sides if side != "memb"]

    def cells(side: str, k: str) -> str:
        return "— | —" if np.isnan(mean[side][k]) else f"{mean[side][k]:.3f} | {mean[side][k] / m[k]:.2f}"

    lines = [
        "- HalfCheetah-v5, batch 256, (256, 256), one gradient step per env step; milliseconds per env step, "
        "mean of two alternating rounds",
        "",
        "| part | memb SAC | " + " | ".join(f"{names[p]} SAC | {names[p]} / memb" for p in peers) + " |",
        "|---|---|" + "---|---|" * len(peers),
        *[f"| {k} | {m[k]:.3f} | " + " | ".join(cells(p, k) for p in peers) + " |" for k in keys],
        "",
        "Whole loop: memb "
        + f"{1e3 / m['whole']:.1f} env steps/s; "
        + "; ".join(
            f"{names[p]} {1e3 / mean[p]['whole']:.1f} ({mean[p]['whole'] / m['whole']:.2f}x memb's time)" for p in peers
        )
        + ".",
        f"For 2x SB3 with memb's act, env and rest as measured, memb's update would have to take {needed:.3f} ms "
        f"({s['update'] / max(needed, 1e-9):.2f}x faster than SB3's update; it is {s['update'] / m['update']:.2f}x)."
        if needed > 0
        else "For 2x, memb's act, env and rest alone already exceed half of SB3's whole step.",
    ]
    write_record("baselines", "sac-step-", record, "Where one SAC env step's time goes: memb, SB3 and SBX", lines)


if __name__ == "__main__":
    main()
