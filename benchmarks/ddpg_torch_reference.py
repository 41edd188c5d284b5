"""DDPG at its 2015 settings outside memb: a small PyTorch DDPG, to tell a memb bug from the settings themselves.

memb's DDPG collapsed on HalfCheetah-v5 (results/baselines/ddpg-collapse/): the critic's L2 decay of 1e-2, added to
the gradient before Adam, shrank the critic until ∂Q/∂a was the same at every state and the actor held one corner of
the action box. Was that memb's code, or the settings? (It was memb's: see `--loss-scale` below.) This script is a
second DDPG, in PyTorch, written apart from memb's agents, with the settings of facts.md §6 and the paper:
  - actor and critic (400, 300) ReLU, the action joining the critic at its second layer, output layers drawn from
    U(±3e-3), the others PyTorch's default U(±1/√fan_in) (the paper's init);
  - Adam, actor 1e-4, critic 1e-3 with L2 weight decay `--weight-decay` (1e-2) through torch's coupled
    `weight_decay` (the gradient of 0.5·wd·‖θ‖², as TensorFlow's l2_loss of the time); `--decay-scope weights`
    leaves the biases out of it (the paper does not say which);
  - γ 0.99, τ 0.001, batch 64, replay 1e6, one update per env step from the first full batch;
  - Ornstein-Uhlenbeck exploration θ 0.15, σ 0.2, dt 1, restarted every episode, the action clipped to [−1, 1];
  - truncated episodes bootstrap, terminated ones do not.
Every `--eval-every` steps: `--eval-episodes` deterministic episodes (seeded as time_to_return.py's), the critic's
mean |weight| per layer, and ∂Q/∂a at (s, μ(s)) over 1000 replay states: its mean |·| and its std over the states (a
collapsed critic has a std near 0; their ratio tells a state-independent ∂Q/∂a from a uniformly small one), and the
share of the actor's action components within 0.01 of a bound.

Where it differs from memb's DDPG: the critic's loss is the paper's full mean squared TD error, as memb's since
session 12 (before, memb's was half of it, so the same decay weighed twice against the TD gradient: `--loss-scale
0.5`); the hidden layers start as PyTorch's U(±1/√fan_in), weights and biases (the paper's; memb: Flax's LeCun
normal, zero biases). Left out: the paper's batch normalization (in memb's DDPG preset since session 13). The
replay buffer holds every step of the run (at most 1e6 here), the action box is taken as symmetric (true of the
MuJoCo tasks), the diagnostics draw their states from the replay sampler's generator (so `--eval-every` changes the
run), and the evaluation is time_to_return.py's (which imports memb); no agent code is shared.

    pip install torch==2.13.0        # benchmark-only (the CPU wheel)
    python benchmarks/ddpg_torch_reference.py --steps 30000 [--weight-decay 0] [--decay-scope weights] --record NAME
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from time_to_return import evaluate_policy  # noqa: E402

from _record import header, write_record  # noqa: E402


def build(obs_dim: int, act_dim: int):
    import torch
    from torch import nn

    def final(layer):
        nn.init.uniform_(layer.weight, -3e-3, 3e-3)
        nn.init.uniform_(layer.bias, -3e-3, 3e-3)
        return layer

    class Actor(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2, self.l3 = nn.Linear(obs_dim, 400), nn.Linear(400, 300), final(nn.Linear(300, act_dim))

        def forward(self, s):
            return torch.tanh(self.l3(torch.relu(self.l2(torch.relu(self.l1(s))))))

    class Critic(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = nn.Linear(obs_dim, 400), nn.Linear(400 + act_dim, 300)
            self.l3 = final(nn.Linear(300, 1))

        def forward(self, s, a):
            h = torch.relu(self.l1(s))
            return self.l3(torch.relu(self.l2(torch.cat([h, a], -1))))

    return Actor(), Critic()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=30_000)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--decay-scope", choices=("all", "weights"), default="all")
    p.add_argument("--loss-scale", type=float, default=1.0, help="critic loss: scale · MSE (memb before session 12: ½)")
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--eval-episodes", type=int, default=5)
    p.add_argument("--record", default="", help="write results/baselines/ddpg-collapse/NAME<date>.json and .md")
    args = p.parse_args()
    if min(args.steps, args.eval_every, args.eval_episodes, args.loss_scale) <= 0 or args.weight_decay < 0:
        raise SystemExit("--steps, --eval-every, --eval-episodes, --loss-scale must be > 0 and --weight-decay >= 0")
    import torch

    started = header()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    env = gym.make(args.env)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    high = env.action_space.high
    actor, critic = build(obs_dim, act_dim)
    actor_target, critic_target = copy.deepcopy(actor), copy.deepcopy(critic)
    actor_opt = torch.optim.Adam(actor.parameters(), lr=1e-4)
    if args.decay_scope == "all":
        groups = [{"params": list(critic.parameters()), "weight_decay": args.weight_decay}]
    else:
        named = list(critic.named_parameters())
        groups = [
            {"params": [w for n, w in named if n.endswith("weight")], "weight_decay": args.weight_decay},
            {"params": [b for n, b in named if n.endswith("bias")], "weight_decay": 0.0},
        ]
    critic_opt = torch.optim.Adam(groups, lr=1e-3)

    size = args.steps
    S, A = np.zeros((size, obs_dim), np.float32), np.zeros((size, act_dim), np.float32)
    R, S2, D = np.zeros(size, np.float32), np.zeros((size, obs_dim), np.float32), np.zeros(size, np.float32)
    obs, _ = env.reset(seed=args.seed)
    noise = np.zeros(act_dim)
    rows, train_seconds, t0 = [], 0.0, time.perf_counter()
    for step in range(args.steps):
        with torch.no_grad():
            mu = actor(torch.as_tensor(obs, dtype=torch.float32)).numpy()
        noise = noise - 0.15 * noise + 0.2 * rng.standard_normal(act_dim)  # OU, θ 0.15, σ 0.2, dt 1
        action = np.clip(mu + noise, -1.0, 1.0)
        next_obs, reward, terminated, truncated, _ = env.step(action * high)
        S[step], A[step], R[step], S2[step], D[step] = obs, action, reward, next_obs, float(terminated)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
            noise = np.zeros(act_dim)
        n = step + 1
        if n >= 64:
            idx = rng.integers(0, n, 64)
            s, a, r, s2, d = (torch.as_tensor(x[idx]) for x in (S, A, R, S2, D))
            with torch.no_grad():
                y = r + 0.99 * (1 - d) * critic_target(s2, actor_target(s2)).squeeze(-1)
            critic_loss = args.loss_scale * ((critic(s, a).squeeze(-1) - y) ** 2).mean()
            critic_opt.zero_grad()
            critic_loss.backward()
            critic_opt.step()
            actor_loss = -critic(s, actor(s)).mean()
            actor_opt.zero_grad()
            actor_loss.backward()
            actor_opt.step()
            with torch.no_grad():
                for net, target in ((actor, actor_target), (critic, critic_target)):
                    for w, wt in zip(net.parameters(), target.parameters(), strict=True):
                        wt.mul_(1 - 0.001).add_(0.001 * w)
        if n % args.eval_every == 0:
            train_seconds += time.perf_counter() - t0

            def act(o):
                with torch.no_grad():
                    return actor(torch.as_tensor(o, dtype=torch.float32)).numpy() * high

            ret = evaluate_policy(act, args.env, args.seed, len(rows), args.eval_episodes)
            states = torch.as_tensor(S[rng.integers(0, n, 1000)])
            mu_s = actor(states).detach().requires_grad_(True)
            grad = torch.autograd.grad(critic(states, mu_s).sum(), mu_s)[0].numpy()
            row = {
                "step": n,
                "return": ret,
                "train_seconds": train_seconds,
                "critic_mean_abs_weight": [float(x.weight.abs().mean()) for x in (critic.l1, critic.l2, critic.l3)],
                "dq_da_mean_abs": float(np.abs(grad).mean()),
                "dq_da_std_over_states": float(grad.std(axis=0).mean()),
                "actions_at_bounds": float((np.abs(mu_s.detach().numpy()) > 0.99).mean()),
            }  # fmt: skip
            rows.append(row)
            print(
                f"{n} return {ret:.0f}  |w| {' '.join(f'{w:.4f}' for w in row['critic_mean_abs_weight'])}  "
                f"dQ/da {row['dq_da_mean_abs']:.4f} (std over states {row['dq_da_std_over_states']:.4f})  "
                f"at bounds {row['actions_at_bounds']:.0%}",
                flush=True,
            )
            t0 = time.perf_counter()
    env.close()
    if args.record:
        lines = [
            "",
            f"- a PyTorch DDPG written apart from memb's ({Path(__file__).name}), {args.env}, seed {args.seed}, "
            f"{args.steps} steps; critic L2 weight decay {args.weight_decay:g} through Adam on "
            + ("every parameter" if args.decay_scope == "all" else "the weights only, not the biases")
            + f"; critic loss {args.loss_scale:g} × the mean squared TD error; {args.eval_episodes} deterministic "
            f"evaluation episodes every {args.eval_every} steps",
            "",
            "| step | return | critic mean abs weight (layers 1, 2, 3) | mean abs ∂Q/∂a | its std over states "
            "| actor's components at a bound |",
            "|---|---|---|---|---|---|",
            *[
                f"| {r['step']} | {r['return']:.0f} | {', '.join(f'{w:.4f}' for w in r['critic_mean_abs_weight'])} "
                f"| {r['dq_da_mean_abs']:.4f} | {r['dq_da_std_over_states']:.4f} | {r['actions_at_bounds']:.0%} |"
                for r in rows
            ],
        ]
        record = {**started, **vars(args), "rows": rows}
        write_record("baselines/ddpg-collapse", args.record, record, "DDPG at its 2015 settings in PyTorch", lines)


if __name__ == "__main__":
    main()
