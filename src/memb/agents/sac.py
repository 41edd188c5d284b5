"""SAC: Soft Actor-Critic (Haarnoja et al. 2018a, "Soft Actor-Critic: Off-Policy Maximum Entropy Deep RL with a
Stochastic Actor"; 2018b, "Soft Actor-Critic Algorithms and Applications").

Reads top to bottom: the config, the state, the critic loss, the actor loss, the temperature loss, one env step.
The default is the modern form (2018b): twin Q with target Q networks and α tuned to a target entropy of −dim(A).
`value_network=True` with `auto_alpha=False` is the first paper's form, a V network with a target V̄ and a fixed α,
which is MEMB's value learning: MEMB minus its models. Actions live in [-1, 1]^d, as for every memb agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from memb import config as cfg
from memb.agents.common import Batch, adam, all_finite, learning_rates, polyak_update, scale_learning_rate
from memb.networks import LOG_STD_BOUNDS, QEnsemble, TanhGaussianPolicy, ValueFunction
from memb.networks.distributions import tanh_gaussian_sample

Params = Any


@dataclass(frozen=True)
class SACConfig:
    """The 2018b paper's settings (facts.md §6)."""

    gamma: float = 0.99
    tau: float = 0.005  # target network Polyak rate, every update
    batch_size: int = 256
    policy_hidden: tuple[int, ...] = (256, 256)
    value_hidden: tuple[int, ...] = (256, 256)
    policy_lr: float = 3e-4
    value_lr: float = 3e-4
    alpha_lr: float = 3e-4
    alpha: float = 0.2  # the fixed α, or the initial α with auto_alpha
    auto_alpha: bool = True  # 2018b: minimize J(α) = E[−α (log π(a|s) + H̄)]
    target_entropy: float | None = None  # H̄; None: −dim(A)
    value_network: bool = False  # 2018a: Q(s,a) ← r + γ V̄(s'), V(s) ← min Q(s,ã) − α log π(ã|s)
    updates_per_step: int = 1
    random_steps: int = 10_000  # uniformly random actions first (learning starts once a batch is stored)
    log_std_bound: Literal["clip", "tanh"] = "clip"  # SAC's code clips the policy's log-std to [-20, 2]; tanh: MEMB's

    def __post_init__(self) -> None:
        cfg.normalize(self)
        cfg.in_range("gamma", self.gamma, 0.0, 1.0)
        cfg.in_range("tau", self.tau, 0.0, 1.0, closed_high=True)
        cfg.positive("batch_size", self.batch_size, integer=True)
        for name in ("policy_hidden", "value_hidden"):
            cfg.layer_sizes(name, getattr(self, name))
        for name in ("policy_lr", "value_lr", "alpha_lr", "alpha"):
            cfg.positive(name, getattr(self, name))
        cfg.positive("updates_per_step", self.updates_per_step, integer=True)
        cfg.non_negative("random_steps", self.random_steps, integer=True)
        cfg.one_of("log_std_bound", self.log_std_bound, LOG_STD_BOUNDS)


@flax.struct.dataclass
class SACState:
    params: dict[str, Params]  # policy, q (twin), v (value_network only)
    target: Params  # Q̄ (twin) or V̄
    log_alpha: jax.Array
    opt_state: dict[str, Any]  # policy, value, alpha
    key: jax.Array


class SAC:
    name = "sac"
    Config = SACConfig
    components = ("policy", "value", "alpha")
    uses_behavior_log_prob = False

    def __init__(self, config: SACConfig, obs_dim: int, act_dim: int):
        self.config, self.obs_dim, self.act_dim = config, obs_dim, act_dim
        c = config
        self.target_entropy = -float(act_dim) if c.target_entropy is None else c.target_entropy
        self.policy_net = TanhGaussianPolicy(c.policy_hidden, act_dim, log_std_bound=c.log_std_bound)
        self.q_net = QEnsemble(c.value_hidden, num=2)
        self.v_net = ValueFunction(c.value_hidden)
        self.policy_opt, self.value_opt, self.alpha_opt = adam(c.policy_lr), adam(c.value_lr), adam(c.alpha_lr)
        self._update = jax.jit(self.update_fn)
        self._act = jax.jit(self.act_fn, static_argnames="deterministic")

    def init(self, key: jax.Array) -> SACState:
        kp, kq, kv, key = jax.random.split(key, 4)
        s, a = jnp.zeros((1, self.obs_dim)), jnp.zeros((1, self.act_dim))
        params = {"policy": self.policy_net.init(kp, s), "q": self.q_net.init(kq, s, a)}
        if self.config.value_network:
            params["v"] = self.v_net.init(kv, s)
        log_alpha = jnp.log(jnp.asarray(self.config.alpha, jnp.float32))
        return SACState(
            params=params,
            target=params["v"] if self.config.value_network else params["q"],
            log_alpha=log_alpha,
            opt_state={
                "policy": self.policy_opt.init(params["policy"]),
                "value": self.value_opt.init(_value_params(params)),
                "alpha": self.alpha_opt.init(log_alpha),
            },
            key=key,
        )

    # ----------------------------------------------------------------------------------- acting
    def policy(self, policy_params: Params, s: jax.Array, key: jax.Array):
        mean, log_std = self.policy_net.apply(policy_params, s)
        return tanh_gaussian_sample(key, mean, log_std)

    def act_fn(self, policy_params: Params, obs: jax.Array, key: jax.Array, deterministic: bool = False):
        key, sub = jax.random.split(key)
        if deterministic:
            return jnp.tanh(self.policy_net.apply(policy_params, obs)[0]), key
        return self.policy(policy_params, obs, sub)[0], key

    def act(self, state: SACState, obs: np.ndarray, key: jax.Array, deterministic: bool = False):
        action, key = self._act(state.params["policy"], np.asarray(obs, np.float32), key, deterministic=deterministic)
        return np.asarray(action), key

    # ------------------------------------------------------------------------------------ critic
    def critic_loss(self, value_params: Params, policy_params: Params, target: Params, alpha, batch: Batch, key):
        """2018b: ½ E (Q_i(s,a) − y)², y = r + γ(1 − d)(min_j Q̄_j(s', a') − α log π(a'|s')), a' ~ π(s').
        2018a (value_network): y = r + γ(1 − d) V̄(s'), and ½ E (V(s) − (min_j Q_j(s, ã) − α log π(ã|s)))²."""
        c = self.config
        not_done = 1.0 - batch.terminated
        q = self.q_net.apply(value_params["q"], batch.obs, batch.action)  # [2, B]
        if c.value_network:
            y = batch.reward + c.gamma * not_done * self.v_net.apply(target, batch.next_obs)
            a_new, log_prob = self.policy(policy_params, batch.obs, key)
            v_target = self.q_net.apply(value_params["q"], batch.obs, a_new).min(axis=0) - alpha * log_prob
            v = self.v_net.apply(value_params["v"], batch.obs)
            v_loss = 0.5 * jnp.mean((v - jax.lax.stop_gradient(v_target)) ** 2)
        else:
            a_next, log_prob_next = self.policy(policy_params, batch.next_obs, key)
            q_next = self.q_net.apply(target, batch.next_obs, a_next).min(axis=0)
            y = batch.reward + c.gamma * not_done * (q_next - alpha * log_prob_next)
            v_loss = 0.0
        q_loss = 0.5 * jnp.mean(jnp.sum((q - jax.lax.stop_gradient(y)) ** 2, axis=0))
        return q_loss + v_loss, {"q_loss": q_loss, "v_loss": v_loss, "q_mean": q.mean()}

    # ------------------------------------------------------------------------------------- actor
    def actor_loss(self, policy_params: Params, q_params: Params, alpha, obs: jax.Array, key):
        """J(θ) = E_s E_η [α log π(κ(s,η)|s) − min_j Q_j(s, κ(s,η))]: reparameterized, Q held fixed."""
        a, log_prob = self.policy(policy_params, obs, key)
        q = self.q_net.apply(q_params, obs, a).min(axis=0)
        loss = jnp.mean(alpha * log_prob - q)
        return loss, {"policy_loss": loss, "entropy": -jnp.mean(log_prob), "log_prob": log_prob}

    # ------------------------------------------------------------------------------- temperature
    def alpha_loss(self, log_alpha, log_prob):
        """J(α) = E[−α (log π(a|s) + H̄)], on log α for positivity (as the authors' code)."""
        return -jnp.mean(log_alpha * jax.lax.stop_gradient(log_prob + self.target_entropy))

    # ------------------------------------------------------------------------------ one update
    def update_step(self, state: SACState, batch: Batch) -> tuple[SACState, dict]:
        c = self.config
        key, k_critic, k_actor = jax.random.split(state.key, 3)
        alpha = jnp.exp(state.log_alpha)
        params = state.params
        value = _value_params(params)
        grads, info = jax.grad(self.critic_loss, has_aux=True)(
            value, params["policy"], state.target, alpha, batch, k_critic
        )
        updates, value_opt = self.value_opt.update(grads, state.opt_state["value"], value)
        value = optax.apply_updates(value, updates)

        grads, actor_info = jax.grad(self.actor_loss, has_aux=True)(
            params["policy"], value["q"], alpha, batch.obs, k_actor
        )
        updates, policy_opt = self.policy_opt.update(grads, state.opt_state["policy"], params["policy"])
        policy = optax.apply_updates(params["policy"], updates)

        log_alpha, alpha_opt = state.log_alpha, state.opt_state["alpha"]
        log_prob = actor_info.pop("log_prob")  # of the actor's sample in this update, as the authors' code
        alpha_loss, grad = jax.value_and_grad(self.alpha_loss)(log_alpha, log_prob)
        if c.auto_alpha:
            updates, alpha_opt = self.alpha_opt.update(grad, alpha_opt, log_alpha)
            log_alpha = optax.apply_updates(log_alpha, updates)

        online = value["v"] if c.value_network else value["q"]
        state = state.replace(
            params={**params, **value, "policy": policy},
            target=polyak_update(online, state.target, c.tau),
            log_alpha=log_alpha,
            opt_state={"policy": policy_opt, "value": value_opt, "alpha": alpha_opt},
            key=key,
        )
        return state, {**info, **actor_info, "alpha_loss": alpha_loss, "alpha": jnp.exp(log_alpha)}

    def update_fn(self, state: SACState, batches: Batch) -> tuple[SACState, dict]:
        state, info = jax.lax.scan(self.update_step, state, batches)
        info = jax.tree.map(jnp.mean, info)
        return state, {**info, "finite": self.health(state, info)}

    def health(self, state: SACState, info: dict) -> jax.Array:
        """Per component: are its parameters and its loss finite? The targets are not read: they are Polyak averages
        of online parameters that each passed this check (a failed update is dropped whole), hence finite."""
        checks = {
            "policy": all_finite(state.params["policy"], info["policy_loss"]),
            "value": all_finite(_value_params(state.params), info["q_loss"]),
            "alpha": all_finite(state.log_alpha),
        }
        return jnp.stack([checks[c] for c in self.components])

    # ------------------------------------------------------------------------ trainer interface
    def batches_per_step(self, env_step: int) -> int:
        """No updates during the random phase (as SB3's learning_starts and TD3's start_timesteps)."""
        return 0 if env_step < self.config.random_steps else self.config.updates_per_step

    def rounds_per_step(self, env_step: int) -> int:
        return self.batches_per_step(env_step)

    def update(self, state: SACState, batches: Batch, env_step: int) -> tuple[SACState, dict]:
        return self._update(state, batches)

    def update_function(self, env_step: int):
        """The pure function that `update` runs (the multi-seed trainer vmaps it)."""
        return self.update_fn

    def update_programs(self) -> list[tuple[int, object, int]]:
        """(first env step, jitted program, batches it takes) of the program `update` runs; the trainer compiles it
        ahead, while the random phase runs and the first batch fills (training/ahead.py)."""
        return [(self.config.random_steps, self._update, self.config.updates_per_step)]

    def model_error(self, state: SACState, batch: Batch) -> dict[str, float]:
        return {}  # no model

    def scale_learning_rate(self, state: SACState, component: str, factor: float) -> SACState:
        return state.replace(opt_state=scale_learning_rate(state.opt_state, component, factor))

    def learning_rates(self, state: SACState) -> dict[str, float]:
        return learning_rates(state.opt_state, self.components)


def _value_params(params: Params) -> Params:
    return {k: params[k] for k in ("q", "v") if k in params}
