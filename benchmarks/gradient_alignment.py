"""Does MEMB's policy gradient point where the real environment's does? A diagnostic for a trained MEMB run.

MEMB improves π by ascending ∂/∂a [r̂(s, a) + γ V(f(s, a))] (eq. 8-9, k = 1): the learned models supply the
action-Jacobians. This script measures, on states visited by the run's policy in the real MuJoCo env, how that
action-gradient compares with

  true:  ∂/∂a [r(s, a) + γ (1 − d) V(s'(s, a))], the same objective with the simulator in place of the learned
         models (central finite differences: the MuJoCo state is restored and stepped with a ± ε e_i), and
  Q:     ∂/∂a min(Q1, Q2)(s, a), the gradient SAC would use (Q is learned from real data only).

All three use the run's own V and Q, so a disagreement between `model` and `true` is the models' Jacobian alone.
It reports the cosine similarities (median and fraction > 0) and the norms, and the decomposition into the reward
part and the V(s') part. The model's means are used (ζ = 0).

    python benchmarks/gradient_alignment.py RUN_DIR [RUN_DIR ...] [--states 512] [--eps 1e-2] [--record NAME]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from memb import Agent  # noqa: E402
from memb.training.envs import get_env_state, set_env_state  # noqa: E402

from _record import header, write_record  # noqa: E402


def visited_states(agent: Agent, n: int, seed: int) -> tuple[np.ndarray, list[dict]]:
    """n states from stochastic episodes of the run's policy: observations and the env's captured state."""
    env = gym.make(agent.config.train.env)
    rng = np.random.default_rng(seed)
    obs_list, sim_states = [], []
    episode = 0
    while len(obs_list) < n:
        obs, _ = env.reset(seed=seed + episode)
        episode += 1
        done = False
        while not done and len(obs_list) < n:
            if rng.random() < 0.25:  # a quarter of the visited states, spread over the episode
                obs_list.append(np.asarray(obs, np.float32))
                sim_states.append(get_env_state(env))
            action = agent.act(obs, deterministic=False)
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
    env.close()
    return np.stack(obs_list), sim_states


def true_step(env, sim_state: dict, env_action) -> tuple[np.ndarray, float, bool]:
    """(s', r, terminated) of the simulator from a restored state (the full MuJoCo integration state, warm start
    included, so that the same action gives the same s' whatever was stepped before)."""
    set_env_state(env, sim_state)
    obs, reward, terminated, _, _ = env.unwrapped.step(env_action)
    return np.asarray(obs, np.float32), float(reward), bool(terminated)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-12)


def analyse(run_dir: Path, n: int, eps: float, seed: int) -> dict:
    agent = Agent.load(run_dir)
    memb, state = agent.agent, agent.state
    if not hasattr(memb, "dynamics_net"):
        raise SystemExit(f"{run_dir}: not a MEMB run (algo {agent.config.algo}); the diagnostic needs its models")
    gamma = memb.config.gamma
    params, normalizer = state.params, state.normalizer
    obs, sim_states = visited_states(agent, n, seed)
    key = jax.random.PRNGKey(seed)
    actions = np.asarray(memb.policy(params["policy"], jnp.asarray(obs), key)[0])  # a ~ π(s), in [-1, 1]^d

    def v(s):
        return memb.v_net.apply(params["v"], s)

    def model_parts(s, a):  # r̂ and γ V(f): the means of the models
        (d_mean, _), (r_mean, _) = memb._model_heads(params, normalizer, s, a)
        s_next = s + d_mean if memb.config.predict_delta else d_mean
        return r_mean[..., 0], gamma * v(s_next)

    def per_sample_grad(fn):
        return jax.jit(jax.vmap(jax.grad(fn, argnums=1), in_axes=(0, 0)))

    s, a = jnp.asarray(obs), jnp.asarray(actions)
    g_model_r = np.asarray(per_sample_grad(lambda s, a: model_parts(s, a)[0])(s, a))
    g_model_v = np.asarray(per_sample_grad(lambda s, a: model_parts(s, a)[1])(s, a))
    g_q = np.asarray(per_sample_grad(lambda s, a: memb.q_net.apply(params["q"], s, a).min(0))(s, a))

    env = gym.make(agent.config.train.env)
    env.reset(seed=seed)
    act_dim = actions.shape[1]
    g_true_r, g_true_v = np.zeros_like(actions), np.zeros_like(actions)
    for i, sim_state in enumerate(sim_states):
        once, twice = (true_step(env, sim_state, agent.scaler.to_env(actions[i]))[0] for _ in range(2))
        if not np.array_equal(once, twice):
            raise SystemExit(f"{agent.config.train.env}: a restored state does not step deterministically")
        for j in range(act_dim):
            outs = []
            for sign in (1.0, -1.0):
                a_eps = actions[i].copy()
                a_eps[j] = np.clip(a_eps[j] + sign * eps, -1.0, 1.0)
                s_next, r, terminated = true_step(env, sim_state, agent.scaler.to_env(a_eps))
                outs.append((a_eps[j], r, 0.0 if terminated else gamma * float(v(jnp.asarray(s_next)[None])[0])))
            (a_hi, r_hi, v_hi), (a_lo, r_lo, v_lo) = outs
            g_true_r[i, j] = (r_hi - r_lo) / (a_hi - a_lo)
            g_true_v[i, j] = (v_hi - v_lo) / (a_hi - a_lo)
    env.close()

    g_model, g_true = g_model_r + g_model_v, g_true_r + g_true_v

    def summary(x, y):
        c = cosine(x, y)
        return {"cos_median": float(np.median(c)), "cos_positive": float(np.mean(c > 0))}

    return {
        "run": str(run_dir),
        "env": agent.config.train.env,
        "states": len(obs),
        "eps": eps,
        "model_vs_true": summary(g_model, g_true),
        "q_vs_true": summary(g_q, g_true),
        "model_vs_q": summary(g_model, g_q),
        "reward_part_model_vs_true": summary(g_model_r, g_true_r),
        "value_part_model_vs_true": summary(g_model_v, g_true_v),
        "norm_median": {
            "model": float(np.median(np.linalg.norm(g_model, axis=-1))),
            "true": float(np.median(np.linalg.norm(g_true, axis=-1))),
            "q": float(np.median(np.linalg.norm(g_q, axis=-1))),
            "true_value_part": float(np.median(np.linalg.norm(g_true_v, axis=-1))),
            "model_value_part": float(np.median(np.linalg.norm(g_model_v, axis=-1))),
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--states", type=int, default=512)
    p.add_argument("--eps", type=float, default=1e-2, help="finite-difference step in normalized action units")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--record", default="", help="write benchmarks/results/gradient-alignment/NAME<date>.json/.md")
    args = p.parse_args()
    results = [analyse(r, args.states, args.eps, args.seed) for r in args.runs]
    lines = [
        "",
        "| run | states | model·true cos (median, >0) | Q·true | model·Q | reward part | V(s') part "
        "| |g| model / true / Q |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:

        def f(k, r=r):
            return f"{r[k]['cos_median']:.2f}, {r[k]['cos_positive']:.0%}"

        n = r["norm_median"]
        lines.append(
            f"| {r['run']} | {r['states']} | {f('model_vs_true')} | {f('q_vs_true')} | {f('model_vs_q')} | "
            f"{f('reward_part_model_vs_true')} | {f('value_part_model_vs_true')} | "
            f"{n['model']:.3g} / {n['true']:.3g} / {n['q']:.3g} |"
        )
    print("\n".join(lines))
    if args.record:
        record = {**header(), "eps": args.eps, "results": results}
        write_record("gradient-alignment", args.record, record, "MEMB's action-gradient against the simulator's", lines)


if __name__ == "__main__":
    main()
