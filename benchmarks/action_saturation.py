"""How saturated a trained policy's actions are: one deterministic episode of a finished run's final agent
(its state.msgpack): the fraction of action components at the bounds (|a| > 0.99 in memb's [-1, 1] action space),
the mean |a|, the std of each component over the episode (a gait switches its actions, a collapsed actor holds one
corner of the box), and the episode's return. A deterministic policy whose actions all sit at the bounds earns only
the control cost on HalfCheetah (0.1 Σ a² per step: about −600 an episode), the signature of a collapsed actor.

For a deterministic actor-critic (TD3, DDPG) it also looks at the critic on the states of those episodes, for why an
actor collapses: ∂Q₁/∂a at (s, μ(s)) and its std over the states (a critic whose action gradient is the same at every
state teaches the actor one constant action), the mean |weight| of each critic layer, and the fraction of each hidden
layer's units that are active on every state or on none (Q is linear in a where the same units are always on).

    python benchmarks/action_saturation.py RUN_DIR [RUN_DIR ...] [--episodes 1] [--record NAME-]

RUN_DIR is a finished run (its state.msgpack), a stopped one (the agent of its newest checkpoint), or one checkpoint
of a run (RUN/checkpoints/STEP: the agent as it was at that step).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from memb.training import checkpoint  # noqa: E402
from memb.training.envs import ActionScaler, make_env  # noqa: E402
from memb.training.trainer import build_agent, load_state, read_run_config  # noqa: E402

from _record import header, write_record  # noqa: E402


def saturation(path: Path, episodes: int) -> dict:
    run_dir = path.parent.parent if (path / "agent.msgpack").is_file() else path
    run = read_run_config(run_dir)
    env = make_env(run.train.env)
    agent = build_agent(run, env)
    scaler = ActionScaler(env.action_space)
    with tempfile.TemporaryDirectory() as tmp:
        state = load_state(agent_dir(path, Path(tmp)), agent)
    key = jax.random.PRNGKey(0)
    states, actions, returns = [], [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=10_000 + episode)
        total, done = 0.0, False
        while not done:
            a, key = agent.act(state, obs, key, deterministic=True)
            states.append(obs)
            actions.append(a)
            obs, r, terminated, truncated, _ = env.step(scaler.to_env(a))
            total += float(r)
            done = terminated or truncated
        returns.append(total)
    env.close()
    signed = np.array(actions)
    acts = np.abs(signed)
    return {
        "dir": str(path),
        "algo": run.algo,
        "env": run.train.env,
        "return": float(np.mean(returns)),
        "mean_abs_action": float(acts.mean()),
        "saturated_fraction": float((acts > 0.99).mean()),
        # a gait switches its actions; a collapsed actor holds one corner of the box (std over time near 0)
        "action_std_over_time": float(signed.std(axis=0).mean()),
        **(critic(agent, state, np.array(states, np.float32)) if agent.name in ("td3", "ddpg") else {}),
    }


def agent_dir(path: Path, tmp: Path) -> Path:
    """A directory whose state.msgpack is the agent to look at: a run's final one, or a checkpoint's (copied to tmp)."""
    if (path / "state.msgpack").is_file():
        return path
    agent = path / "agent.msgpack" if (path / "agent.msgpack").is_file() else checkpoint.latest(path) / "agent.msgpack"
    (tmp / "state.msgpack").write_bytes(agent.read_bytes())
    return tmp


def critic(agent, state, s: np.ndarray) -> dict:
    """The first critic on the visited states: ∂Q₁/∂a at (s, μ(s)), its layers' weights and their units' activity."""
    q_params, mu = state.params["q"], state.params["policy"]
    a = np.asarray(agent.policy_net.apply(mu, s))

    def q1(s1, a1):
        return agent.q_net.apply(q_params, s1[None], a1[None])[0, 0]

    grad = np.asarray(jax.vmap(jax.grad(q1, argnums=1))(s, a))
    layers = jax.tree.map(lambda x: np.asarray(x)[0], q_params["params"])  # the first critic of the ensemble
    while len(layers) == 1 and not next(iter(layers)).startswith("Dense"):  # VmapQ_0, then MLP_0 where it has one
        layers = next(iter(layers.values()))
    dense = [layers[k] for k in sorted((k for k in layers if k.startswith("Dense")), key=lambda k: int(k[6:]))]
    x, always, never = s, [], []
    action_layer = agent.config.critic_action_layer
    # a batch-normalized critic's unit activity would need its norms replayed here: reported only without them
    for i, layer in enumerate([] if agent.config.value_batch_norm else dense[:-1]):
        if i == action_layer:
            x = np.concatenate([x, a], axis=1)
        x = np.maximum(x @ layer["kernel"] + layer["bias"], 0)
        active = (x > 0).mean(axis=0)
        always.append(float((active == 1).mean()))
        never.append(float((active == 0).mean()))
    norms = sorted((k for k in layers if k.startswith("BatchNorm")), key=lambda k: int(k[10:]))
    return {
        "critic_norm_mean_abs_scale": [float(np.abs(layers[k]["scale"]).mean()) for k in norms],
        "dq_da_mean_abs": float(np.abs(grad.mean(axis=0)).mean()),
        "dq_da_std_over_states": float(grad.std(axis=0).mean()),
        "critic_mean_abs_weight": [float(np.abs(layer["kernel"]).mean()) for layer in dense],
        "critic_units_always_active": always,
        "critic_units_never_active": never,
    }


def weights_cell(r: dict) -> str:
    """The mean |weight| of each dense layer, and of each batch norm's scale where the critic has them."""
    cell = ", ".join(f"{w:.4f}" for w in r["critic_mean_abs_weight"])
    if r["critic_norm_mean_abs_scale"]:
        cell += "; norm scales " + ", ".join(f"{g:.3f}" for g in r["critic_norm_mean_abs_scale"])
    return cell


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--episodes", type=int, default=1)
    p.add_argument("--record", default="", help="write benchmarks/results/baselines/NAME<date>.json/.md")
    args = p.parse_args()
    for d in args.runs:
        path = Path(d)
        if (path / "agent.msgpack").is_file():  # one checkpoint, verified against its manifest where it has one
            ok = (path.parent.parent / "config.json").is_file()
            problem = checkpoint.verify(path) if (path / "manifest.json").is_file() else None
            if problem:
                p.error(f"checkpoint {d} is damaged ({problem}); give another checkpoint of the run")
        else:
            ok = (path / "config.json").is_file() and ((path / "state.msgpack").is_file() or checkpoint.latest(path))
        if not ok:
            p.error(f"{d} has no config.json and no agent (state.msgpack or a checkpoint); give a memb train run")
    started = header()
    rows = [saturation(Path(d), args.episodes) for d in args.runs]
    lines = [
        f"- {args.episodes} deterministic episode(s) per run, seeds from 10000",
        "",
        "| run | algo | return | mean abs action | action components with abs above 0.99 | std of each action "
        "component over time (mean) |",
        "|---|---|---|---|---|---|",
        *[
            f"| `{r['dir']}` | {r['algo']} | {r['return']:.0f} | {r['mean_abs_action']:.3f} | "
            f"{r['saturated_fraction']:.0%} | {r['action_std_over_time']:.3f} |"
            for r in rows
        ],
    ]
    critics = [r for r in rows if "dq_da_std_over_states" in r]
    if critics:
        lines += [
            "",
            "The first critic on the same states (dQ/da at (s, mu(s)), averaged over the action components; per "
            "layer, input to output):",
            "",
            "| run | mean dQ/da (abs) | std of dQ/da over states | mean abs weight per dense layer (and norm scale) "
            "| hidden units active on every state | on none |",
            "|---|---|---|---|---|---|",
            *[
                f"| `{r['dir']}` | {r['dq_da_mean_abs']:.4f} | {r['dq_da_std_over_states']:.4f} | "
                + weights_cell(r)
                + " | "
                + (", ".join(f"{u:.0%}" for u in r["critic_units_always_active"]) or "n/a (batch norm)")
                + " | "
                + (", ".join(f"{u:.0%}" for u in r["critic_units_never_active"]) or "n/a")
                + " |"
                for r in critics
            ],
        ]
    print("\n".join(lines))
    if args.record:
        write_record("baselines", args.record, {**started, "runs": rows}, "Saturation of trained policies", lines)


if __name__ == "__main__":
    main()
