"""MEMB: Model-Embedding Model-Based RL (Tan, Qu, Xiong, Zhang), §3 and Algorithm 1.

Reads top to bottom:
  1. the configuration (defaults: the paper, and the authors' code where the paper is silent),
  2. the state pytree,
  3. the models of §3.1 and their loss (eq. 4),
  4. value learning on real data (eq. 5, 6),
  5. policy improvement through the models (eq. 8, 9), unrolled over `rollout_length` imagined steps,
  6. Algorithm 1's per-env-step update: m fused rounds in one `lax.scan`, plus the model steps.

Actions live in the normalized box [-1, 1]^d; the trainer maps them onto the environment's bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from memb import config as cfg
from memb.agents.common import (
    Batch,
    adam,
    all_finite,
    learning_rates,
    masked_mean,
    padded,
    polyak_update,
    scale_learning_rate,
    wasserstein_1d,
)
from memb.networks import LOG_STD_BOUNDS, GaussianMLP, QEnsemble, TanhGaussianPolicy, ValueFunction
from memb.networks.analytic import ANALYTIC_MODELS, TERMINATION_FUNCTIONS
from memb.networks.distributions import gaussian_log_prob, tanh_gaussian_log_prob, tanh_gaussian_sample

Params = Any


# --------------------------------------------------------------------------------------------- 1. config
@dataclass(frozen=True)
class MEMBConfig:
    """MEMB's hyper-parameters. Names follow the paper; see facts.md §2 for the authors' settings."""

    gamma: float = 0.99
    alpha: float = 0.2  # entropy weight α (eq. 2, 5, 8)
    tau: float = 0.005  # target V Polyak rate: ψ̄ ← (1 − τ) ψ̄ + τ ψ (the authors' "polyak 0.995" is 1 − τ)
    batch_size: int = 100
    policy_hidden: tuple[int, ...] = (256, 256)
    value_hidden: tuple[int, ...] = (256, 256)  # Q1, Q2 and V
    model_hidden: tuple[int, ...] = (256, 128)  # dynamics and reward models, each its own MLP
    policy_lr: float = 3e-4
    value_lr: float = 3e-4  # Q1, Q2 and V share one Adam
    model_lr: float = 3e-4
    # §3.1 models
    model_loss: Literal["mse", "nll"] = "mse"  # eq. (4): MSE of the reparameterized sample; "nll": Gaussian NLL
    predict_delta: bool = False  # predict s' − s instead of s'
    normalize_inputs: bool = False  # standardize model inputs with running statistics of the sampled batches
    # Algorithm 1
    rollout_length: int = 1  # k: imagined steps in the policy objective before bootstrapping with V
    updates_per_step: int = 5  # m: fused actor-critic rounds per env step
    model_updates_per_step: int = 1  # model steps per env step besides those inside the rounds
    model_update_in_rounds: bool = True  # the authors: one model step at the start of each of the m rounds
    random_steps: int = 1000  # uniformly random actions first
    model_warmup_steps: int = 5000  # env steps (from the start) in which only the models train
    # ablations (App. B)
    policy_gradient: Literal["model", "real"] = "model"  # B.1a: "real" = SVG(1) on the batch's real s', r
    importance_weight_cap: float = 0.0  # with "real": > 0 weights each transition by min(π(a|s)/μ(a|s), cap)
    action_noise: float = 0.0  # B.1a: std of Gaussian noise added to actions while acting (for α = 0)
    value_expansion_horizon: int = 1  # H of §3.2: Q targets over H − 1 imagined steps; 1 = real data only
    true_model: str = ""  # B.3: an analytic model (networks.analytic) in place of the learned ones for the policy
    # not in the paper: an env id whose known termination function ends imagined rollouts (instead of the real d)
    termination: str = ""
    # not in the paper: SAC's automatic temperature (Haarnoja et al. 2018b), α tuned so that the policy's entropy
    # tracks target_entropy (None: −dim A); `alpha` is then its starting value
    auto_alpha: bool = False
    target_entropy: float | None = None
    alpha_lr: float = 3e-4
    # not in the paper: "clip" bounds the policy's log-std as SAC's code does, instead of the authors' tanh mapping
    # (which starts the policy nearly deterministic: a head output near 0 is log-std -9)
    log_std_bound: Literal["tanh", "clip"] = "tanh"
    # speed only, the same updates: the m rounds' `lax.scan` unrolled, so that XLA sees one program without a loop
    # and can run round i + 1's model step beside round i's policy and value steps on another core (+4% paired to +8%
    # median rounds/s at batch 256, none measurable at the authors' batch 100, for about twice the compile time;
    # benchmarks/PERFORMANCE-NOTES.md)
    unroll_rounds: bool = True
    # speed only: with unroll_rounds and m > 1, the first `unroll_rounds_after` env steps of full updates run the
    # rolled scan (6 s to compile on two cores against 15 s unrolled, Pendulum preset), so that learning starts sooner;
    # the unrolled program, compiled ahead from halfway through them, takes over after. A run that stops there has lost
    # at most about what the unrolled compile would have cost (ski rental: 5,700-7,900 steps pay for it,
    # compile-cost-2026-12-04T1003.md). The two programs' updates differ by float rounding only; which runs is a
    # function of the step, so runs stay reproducible. 0: unrolled from the warm-up's end (memb before session 24)
    unroll_rounds_after: int = 5_000
    # Algorithm 1, step 3: "calculate the gradients ∇φJ(φ), ∇ψJ(ψ) and ∇θV(s), then update φ, ψ and θ":
    # "simultaneous" takes the policy's and the value's gradients at the same parameters (independent work, which
    # XLA may run on both cores: +1.7% paired at batch 256, PERFORMANCE-NOTES.md); "sequential" (the authors' code
    # order) takes the value's after the policy has moved
    round_updates: Literal["sequential", "simultaneous"] = "sequential"

    def __post_init__(self) -> None:
        cfg.normalize(self)
        cfg.in_range("gamma", self.gamma, 0.0, 1.0)
        cfg.non_negative("alpha", self.alpha)
        cfg.in_range("tau", self.tau, 0.0, 1.0, closed_high=True)
        cfg.positive("batch_size", self.batch_size, integer=True)
        for name in ("policy_hidden", "value_hidden", "model_hidden"):
            cfg.layer_sizes(name, getattr(self, name))
        for name in ("policy_lr", "value_lr", "model_lr"):
            cfg.positive(name, getattr(self, name))
        cfg.one_of("model_loss", self.model_loss, ("mse", "nll"))
        cfg.one_of("log_std_bound", self.log_std_bound, LOG_STD_BOUNDS)
        cfg.one_of("round_updates", self.round_updates, ("sequential", "simultaneous"))
        cfg.positive("rollout_length", self.rollout_length, integer=True)
        cfg.positive("updates_per_step", self.updates_per_step, integer=True)
        cfg.non_negative("model_updates_per_step", self.model_updates_per_step, integer=True)
        cfg.non_negative("random_steps", self.random_steps, integer=True)
        cfg.non_negative("model_warmup_steps", self.model_warmup_steps, integer=True)
        cfg.non_negative("unroll_rounds_after", self.unroll_rounds_after, integer=True)
        cfg.one_of("policy_gradient", self.policy_gradient, ("model", "real"))
        cfg.non_negative("action_noise", self.action_noise)
        cfg.positive("value_expansion_horizon", self.value_expansion_horizon, integer=True)
        if self.true_model:
            cfg.one_of("true_model", self.true_model, tuple(ANALYTIC_MODELS))
        if self.termination:
            cfg.one_of("termination", self.termination, tuple(TERMINATION_FUNCTIONS))
        if self.policy_gradient == "real" and self.rollout_length != 1:
            raise cfg.ConfigError(
                f"policy_gradient real (SVG(1)) uses one real step; set rollout_length 1, got {self.rollout_length}"
            )
        cfg.non_negative("importance_weight_cap", self.importance_weight_cap)
        if self.importance_weight_cap > 0 and self.policy_gradient != "real":
            raise cfg.ConfigError("importance_weight_cap weights SVG(1)'s real transitions; add policy_gradient real")
        if self.importance_weight_cap > 0 and self.action_noise > 0:
            raise cfg.ConfigError(
                "importance weights need the acting policy's density, which action_noise changes; drop one of them"
            )
        if self.policy_gradient == "real" and self.true_model:
            raise cfg.ConfigError("policy_gradient real and true_model exclude each other; drop one of them")
        cfg.positive("alpha_lr", self.alpha_lr)
        models_used = not self.true_model or self.value_expansion_horizon > 1
        if models_used and not self.model_update_in_rounds and self.model_updates_per_step == 0:
            raise cfg.ConfigError(
                "the models would never train: set model_updates_per_step >= 1 or model_update_in_rounds true"
            )
        if self.auto_alpha and self.alpha <= 0:
            raise cfg.ConfigError(f"auto_alpha tunes log α from alpha's value; set alpha > 0, got {self.alpha}")


# ---------------------------------------------------------------------------------------------- 2. state
@flax.struct.dataclass
class Normalizer:
    """Running mean and variance of the models' inputs (s, a), merged batch by batch (Chan et al.).

    The weight of the past is capped at `window` samples, so the statistics follow the replay buffer as it grows
    and shifts (an exponential forgetting once `window` samples have been seen).
    """

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def create(cls, dim: int) -> Normalizer:
        return cls(jnp.zeros(dim), jnp.ones(dim), jnp.zeros(()))

    def update(self, x: jax.Array, window: float = 1e6) -> Normalizer:
        n = x.shape[0]
        mean, var = x.mean(0), x.var(0)
        past = jnp.minimum(self.count, window)
        total = past + n
        delta = mean - self.mean
        new_mean = self.mean + delta * n / total
        m2 = self.var * past + var * n + delta**2 * past * n / total
        return Normalizer(new_mean, m2 / total, total)

    def __call__(self, x: jax.Array) -> jax.Array:
        return (x - self.mean) / jnp.sqrt(self.var + 1e-8)


@flax.struct.dataclass
class MEMBState:
    params: dict[str, Params]  # policy, dynamics, reward, q (twin, stacked), v; log_alpha with auto_alpha
    target_v: Params  # ψ̄
    opt_state: dict[str, Any]  # policy, model (dynamics + reward), value (q + v); alpha with auto_alpha
    normalizer: Normalizer
    key: jax.Array


# ------------------------------------------------------------------------------------------- the agent
class MEMB:
    """The MEMB agent: pure functions over `MEMBState`, jitted once per agent."""

    name = "memb"
    Config = MEMBConfig
    components = ("policy", "value", "model")  # what the optimizers train; `info["finite"]` follows this order

    def __init__(self, config: MEMBConfig, obs_dim: int, act_dim: int):
        self.config, self.obs_dim, self.act_dim = config, obs_dim, act_dim
        c = config
        self.policy_net = TanhGaussianPolicy(c.policy_hidden, act_dim, log_std_bound=c.log_std_bound)
        self.dynamics_net = GaussianMLP(c.model_hidden, obs_dim)
        self.reward_net = GaussianMLP(c.model_hidden, 1)
        self.q_net = QEnsemble(c.value_hidden, num=2)
        self.v_net = ValueFunction(c.value_hidden)
        # learning rates live in the optimizer state, so that a divergence remedy can lower one of them
        self.policy_opt, self.model_opt, self.value_opt = adam(c.policy_lr), adam(c.model_lr), adam(c.value_lr)
        if c.auto_alpha:  # only then does the state hold log α and its optimizer (else: the same state as before)
            self.alpha_opt = adam(c.alpha_lr)
            self.components = (*self.components, "alpha")
            self.target_entropy = -float(act_dim) if c.target_entropy is None else c.target_entropy
        self._update = jax.jit(self.update_fn)
        self.rolled_update_fn = partial(self.update_fn, unroll=False)  # one object: the multi-seed trainer keys on it
        self._rolled_update = jax.jit(self.rolled_update_fn)
        self._warmup = jax.jit(self.warmup_fn)
        self._act = jax.jit(self.act_fn, static_argnames="deterministic")
        self._model_error = jax.jit(self.model_error_fn)
        self._sample = jax.jit(self.sample_fn)
        self.uses_behavior_log_prob = c.importance_weight_cap > 0  # the trainer then records log μ(a|s)

    # ------------------------------------------------------------------------------------- init
    def init(self, key: jax.Array) -> MEMBState:
        kp, kd, kr, kq, kv, key = jax.random.split(key, 6)
        s = jnp.zeros((1, self.obs_dim))
        a = jnp.zeros((1, self.act_dim))
        sa = jnp.zeros((1, self.obs_dim + self.act_dim))
        params = {
            "policy": self.policy_net.init(kp, s),
            "dynamics": self.dynamics_net.init(kd, sa),
            "reward": self.reward_net.init(kr, sa),
            "q": self.q_net.init(kq, s, a),
            "v": self.v_net.init(kv, s),
        }
        opt_state = {
            "policy": self.policy_opt.init(params["policy"]),
            "model": self.model_opt.init(_model_params(params)),
            "value": self.value_opt.init(_value_params(params)),
        }
        if self.config.auto_alpha:
            params["log_alpha"] = jnp.log(jnp.asarray(self.config.alpha, jnp.float32))
            opt_state["alpha"] = self.alpha_opt.init(params["log_alpha"])
        return MEMBState(
            params=params,
            target_v=params["v"],
            opt_state=opt_state,
            normalizer=Normalizer.create(self.obs_dim + self.act_dim),
            key=key,
        )

    # ----------------------------------------------------------------------------------- acting
    def alpha(self, params: Params):
        """α of eq. (2, 5, 8): the config's, or exp(log α) from the state with auto_alpha (a constant for every loss
        but the α step's)."""
        return jax.lax.stop_gradient(jnp.exp(params["log_alpha"])) if self.config.auto_alpha else self.config.alpha

    def policy(self, policy_params: Params, s: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """a = κ(s, η; θ) and log π(a|s) (reparameterized, eq. 8)."""
        mean, log_std = self.policy_net.apply(policy_params, s)
        return tanh_gaussian_sample(key, mean, log_std)

    def act_fn(self, policy_params: Params, obs: jax.Array, key: jax.Array, deterministic: bool = False):
        key, sub = jax.random.split(key)
        if deterministic:
            mean, _ = self.policy_net.apply(policy_params, obs)
            return jnp.tanh(mean), key
        action = self.policy(policy_params, obs, sub)[0]
        if self.config.action_noise > 0:  # App. B.1a: exploration noise for α = 0
            key, k_noise = jax.random.split(key)
            noise = self.config.action_noise * jax.random.normal(k_noise, action.shape)
            action = jnp.clip(action + noise, -1.0, 1.0)
        return action, key

    def act(self, state: MEMBState, obs: np.ndarray, key: jax.Array, deterministic: bool = False):
        """Action(s) in [-1, 1]^d for one observation or a batch; returns (action as NumPy, next key)."""
        obs = np.asarray(obs, np.float32)
        action, key = self._act(state.params["policy"], obs, key, deterministic=deterministic)
        return np.asarray(action), key

    def log_prob_fn(self, policy_params: Params, obs: jax.Array, action: jax.Array) -> jax.Array:
        """log π(a|s) of a given action in [-1, 1]^d."""
        mean, log_std = self.policy_net.apply(policy_params, obs)
        u = jnp.arctanh(jnp.clip(action, -1.0 + 1e-6, 1.0 - 1e-6))
        return tanh_gaussian_log_prob(u, mean, log_std)

    def sample_fn(self, policy_params: Params, obs: jax.Array, key: jax.Array):
        key, sub = jax.random.split(key)
        action, log_prob = self.policy(policy_params, obs, sub)
        return action, log_prob, key

    def act_with_log_prob(self, state: MEMBState, obs: np.ndarray, key: jax.Array):
        """A stochastic action and its log π(a|s), from one sample (for importance weights: log μ of the actor)."""
        action, log_prob, key = self._sample(state.params["policy"], np.asarray(obs, np.float32), key)
        return np.asarray(action), float(log_prob), key

    # --------------------------------------------------------------------- 3. models (§3.1, eq. 4)
    def _model_heads(self, params: Params, normalizer: Normalizer, s: jax.Array, a: jax.Array):
        x = jnp.concatenate([s, a], axis=-1)
        if self.config.normalize_inputs:
            x = normalizer(x)
        dyn = self.dynamics_net.apply(params["dynamics"], x)
        rew = self.reward_net.apply(params["reward"], x)
        return dyn, rew

    @staticmethod
    def _reparameterized(heads, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """μ + σ ζ with ζ ~ N(0, I), for the dynamics head (ζ_ω) and the reward head (ζ_ϕ)."""
        (d_mean, d_log_std), (r_mean, r_log_std) = heads
        k_f, k_r = jax.random.split(key)
        s_sample = d_mean + jnp.exp(d_log_std) * jax.random.normal(k_f, d_mean.shape)
        r_sample = r_mean + jnp.exp(r_log_std) * jax.random.normal(k_r, r_mean.shape)
        return s_sample, r_sample

    def dynamics_and_reward(self, params: Params, normalizer: Normalizer, s, a, key):
        """s' = f(s, a, ζ_ω) and r̂(s, a, ζ_ϕ): reparameterized samples (§3.1)."""
        s_next, r = self._reparameterized(self._model_heads(params, normalizer, s, a), key)
        if self.config.predict_delta:
            s_next = s + s_next
        return s_next, r[..., 0]

    def model_loss(self, model_params: Params, normalizer: Normalizer, batch: Batch, key: jax.Array):
        """Eq. (4): J(ω) = ½ E (f(s,a,ζ) − s')², J(ϕ) = ½ E (r̂(s,a,ζ) − r)²; or the Gaussian NLL."""
        heads = self._model_heads(model_params, normalizer, batch.obs, batch.action)
        target_s = batch.next_obs - batch.obs if self.config.predict_delta else batch.next_obs
        target_r = batch.reward[:, None]
        if self.config.model_loss == "nll":  # per output dimension, so that its scale matches the MSE's
            (d_mean, d_log_std), (r_mean, r_log_std) = heads
            nll = -(gaussian_log_prob(target_s, d_mean, d_log_std) + gaussian_log_prob(target_r, r_mean, r_log_std))
            loss = jnp.mean(nll) / (target_s.shape[-1] + 1)
            return loss, {"model_loss": loss}
        s_sample, r_sample = self._reparameterized(heads, key)
        dyn_loss = 0.5 * jnp.mean((s_sample - target_s) ** 2)
        rew_loss = 0.5 * jnp.mean((r_sample - target_r) ** 2)
        return dyn_loss + rew_loss, {"dynamics_loss": dyn_loss, "reward_loss": rew_loss}

    def model_step(self, state: MEMBState, batch: Batch) -> tuple[MEMBState, dict]:
        key, sub = jax.random.split(state.key)
        normalizer = state.normalizer
        if self.config.normalize_inputs:
            normalizer = normalizer.update(jnp.concatenate([batch.obs, batch.action], axis=-1))
        params = _model_params(state.params)
        grads, info = jax.grad(self.model_loss, has_aux=True)(params, normalizer, batch, sub)
        updates, opt = self.model_opt.update(grads, state.opt_state["model"], params)
        params = optax.apply_updates(params, updates)
        state = state.replace(
            params={**state.params, **params},
            opt_state={**state.opt_state, "model": opt},
            normalizer=normalizer,
            key=key,
        )
        return state, info

    # ------------------------------------------------------------- 4. value learning (eq. 5, 6)
    def value_loss(
        self, value_params: Params, policy_params: Params, target_v: Params, batch: Batch, key, model=None, alpha=None
    ):
        """Eq. (6) for Q1 and Q2 with the target V̄, and eq. (5) for V with min(Q1, Q2); real data only.

        With H = `value_expansion_horizon` > 1, §3.2's value expansion: from the real (s₀, a₀, r₀, s₁), H − 1 more
        steps imagined with π and the learned models (`model` = (params, normalizer)), and
            J(φ) = 1/H Σ_{t<H} ½ (Q(ŝ_t, â_t) − (Σ_{j=t}^{H−1} γ^{j−t} r̂_j + γ^{H−t} V̄(ŝ_H)))².
        The real transition's 1 − d masks everything after step 0. H = 1 is eq. (6) exactly.
        `alpha`: α of eq. (5) (default: the config's).
        """
        c = self.config
        alpha = c.alpha if alpha is None else alpha
        not_done = 1.0 - batch.terminated  # time-limit truncation is not terminal: bootstrap through it
        states, actions, rewards, s = [batch.obs], [batch.action], [batch.reward], batch.next_obs
        k_ve = jax.random.fold_in(key, 1)
        for _ in range(c.value_expansion_horizon - 1):
            k_ve, k_pi, k_model = jax.random.split(k_ve, 3)
            a, _ = self.policy(policy_params, s, k_pi)
            s_next, r = self.dynamics_and_reward(*model, s, a, k_model)
            states, actions, rewards, s = [*states, s], [*actions, a], [*rewards, r], s_next
        target = self.v_net.apply(target_v, s)
        q_loss = 0.0
        for t in reversed(range(c.value_expansion_horizon)):
            mask = not_done if t == 0 else 1.0
            target = rewards[t] + c.gamma * mask * target
            q_t = self.q_net.apply(value_params["q"], states[t], actions[t])  # [2, B]
            sq = jnp.sum((q_t - jax.lax.stop_gradient(target)) ** 2, axis=0)
            q_loss = q_loss + 0.5 * jnp.mean(sq if t == 0 else sq * not_done)
            q = q_t
        q_loss = q_loss / c.value_expansion_horizon

        a_new, log_prob = self.policy(policy_params, batch.obs, key)
        q_new = self.q_net.apply(value_params["q"], batch.obs, a_new).min(axis=0)
        v_target = jax.lax.stop_gradient(q_new - alpha * log_prob)
        v = self.v_net.apply(value_params["v"], batch.obs)
        v_loss = 0.5 * jnp.mean((v - v_target) ** 2)
        return q_loss + v_loss, {"q_loss": q_loss, "v_loss": v_loss, "q_mean": q.mean(), "v_mean": v.mean()}

    def value_step(self, state: MEMBState, batch: Batch) -> tuple[MEMBState, dict]:
        key, sub = jax.random.split(state.key)
        params = _value_params(state.params)
        grads, info = jax.grad(self.value_loss, has_aux=True)(
            params,
            state.params["policy"],
            state.target_v,
            batch,
            sub,
            (state.params, state.normalizer),
            alpha=self.alpha(state.params),
        )
        updates, opt = self.value_opt.update(grads, state.opt_state["value"], params)
        params = optax.apply_updates(params, updates)
        state = state.replace(params={**state.params, **params}, opt_state={**state.opt_state, "value": opt}, key=key)
        return state, info

    # ------------------------------------------------------- 5. policy through the models (eq. 8, 9)
    def policy_objective(self, policy_params: Params, params: Params, normalizer, batch: Batch, key):
        """Eq. (8) unrolled over k = `rollout_length` imagined steps from real states s0 ~ D:

            V(s0) ≈ E[ Σ_{j<k} γ^j (r̂(s_j, a_j, ζ) − α log π(a_j|s_j)) + γ^k V(s_k) ],
            a_j = κ(s_j, η_j; θ),  s_{j+1} = f(s_j, a_j, ζ_j).

        Differentiating w.r.t. θ alone gives eq. (9): gradients flow through r̂, f and V but only θ moves.
        The real transition's 1 − d (as in the authors' code) masks everything after step 0; with `termination`,
        the known termination function of each imagined state masks what follows it instead.
        """
        c = self.config
        if c.policy_gradient == "real":
            return self.real_policy_objective(policy_params, params, normalizer, batch)
        not_done = 1.0 - batch.terminated
        model = self.dynamics_and_reward if not c.true_model else self._true_model
        alpha = self.alpha(params)
        s, total, discount = batch.obs, 0.0, 1.0
        for j in range(c.rollout_length):
            key, k_pi, k_model = jax.random.split(key, 3)
            a, log_prob = self.policy(policy_params, s, k_pi)
            s, r = model(params, normalizer, s, a, k_model)
            total = total + discount * (r - alpha * log_prob)
            if c.termination:
                discount = discount * c.gamma * (1.0 - TERMINATION_FUNCTIONS[c.termination](s))
            else:
                discount = discount * c.gamma * (not_done if j == 0 else 1.0)
        total = total + discount * self.v_net.apply(params["v"], s)  # online V, as the authors
        return jnp.mean(total), {"policy_objective": jnp.mean(total), "entropy": -jnp.mean(log_prob)}

    def _true_model(self, params, normalizer, s, a, key):
        """App. B.3: the environment's own dynamics and reward, differentiable."""
        return ANALYTIC_MODELS[self.config.true_model](s, a)

    def real_policy_objective(self, policy_params: Params, params: Params, normalizer, batch: Batch):
        """App. B.1a, SVG(1) (Heess et al. 2015; eq. 1): the objective at the batch's real (a, r, s').

        The noises are inferred so that the reparameterized samples reproduce the real data at the current
        parameters: η from a = tanh(μ_θ(s) + σ_θ(s) η), ζ from s' = μ_f(s, a) + σ_f(s, a) ζ, and ξ likewise for r.
        The objective's value is r − α log π(a|s) + γ(1 − d) V(s'); its gradient flows through the models'
        Jacobians ∂f/∂a, ∂r̂/∂a and through ∂a/∂θ, never through imagined states.
        """
        c = self.config
        mean, log_std = self.policy_net.apply(policy_params, batch.obs)
        u_real = jnp.arctanh(jnp.clip(batch.action, -1.0 + 1e-6, 1.0 - 1e-6))
        eta = jax.lax.stop_gradient((u_real - mean) * jnp.exp(-log_std))
        u = mean + jnp.exp(log_std) * eta  # == u_real in value, a function of θ in gradient
        a, log_prob = jnp.tanh(u), tanh_gaussian_log_prob(u, mean, log_std)
        (d_mean, d_log_std), (r_mean, r_log_std) = self._model_heads(params, normalizer, batch.obs, a)
        target_s = batch.next_obs - batch.obs if c.predict_delta else batch.next_obs
        zeta = jax.lax.stop_gradient((target_s - d_mean) * jnp.exp(-d_log_std))
        xi = jax.lax.stop_gradient((batch.reward[:, None] - r_mean) * jnp.exp(-r_log_std))
        s_next = d_mean + jnp.exp(d_log_std) * zeta
        s_next = batch.obs + s_next if c.predict_delta else s_next
        r = (r_mean + jnp.exp(r_log_std) * xi)[:, 0]
        alpha = self.alpha(params)
        total = r - alpha * log_prob + c.gamma * (1.0 - batch.terminated) * self.v_net.apply(params["v"], s_next)
        # log π of the replayed actions (not an entropy: they come from older policies)
        info = {"policy_objective": jnp.mean(total), "replay_log_prob": jnp.mean(log_prob)}
        if c.importance_weight_cap > 0:  # SVG(1) with replay: ρ = min(π(a|s)/μ(a|s), cap), held constant
            rho = jnp.minimum(jnp.exp(log_prob - batch.behavior_log_prob), c.importance_weight_cap)
            rho = jax.lax.stop_gradient(rho)
            total = rho * total
            info["importance_weight"] = jnp.mean(rho)
        return jnp.mean(total), info

    def policy_step(self, state: MEMBState, batch: Batch) -> tuple[MEMBState, dict]:
        key, sub = jax.random.split(state.key)

        def loss(theta):
            objective, info = self.policy_objective(theta, state.params, state.normalizer, batch, sub)
            return -objective, info

        grads, info = jax.grad(loss, has_aux=True)(state.params["policy"])
        updates, opt = self.policy_opt.update(grads, state.opt_state["policy"], state.params["policy"])
        policy = optax.apply_updates(state.params["policy"], updates)
        state = state.replace(
            params={**state.params, "policy": policy},
            opt_state={**state.opt_state, "policy": opt},
            key=key,
        )
        return state, info

    def alpha_step(self, state: MEMBState, batch: Batch) -> tuple[MEMBState, dict]:
        """With auto_alpha (SAC 2018b, not in the paper): J(α) = E_s E_a~π[−log α (log π(a|s) + H̄)], a sampled
        afresh at the batch's real states by the just-updated policy; on log α for positivity."""
        key, sub = jax.random.split(state.key)
        _, log_prob = self.policy(state.params["policy"], batch.obs, sub)
        gap = jax.lax.stop_gradient(jnp.mean(log_prob) + self.target_entropy)
        log_alpha = state.params["log_alpha"]
        loss, grad = jax.value_and_grad(lambda la: -la * gap)(log_alpha)
        updates, opt = self.alpha_opt.update(grad, state.opt_state["alpha"], log_alpha)
        log_alpha = optax.apply_updates(log_alpha, updates)
        state = state.replace(
            params={**state.params, "log_alpha": log_alpha},
            opt_state={**state.opt_state, "alpha": opt},
            key=key,
        )
        return state, {"alpha_loss": loss, "alpha": jnp.exp(log_alpha)}

    # ---------------------------------------------------------------- 6. Algorithm 1, one env step
    def round(self, state: MEMBState, batch: Batch) -> tuple[MEMBState, dict]:
        """One of the m rounds: [model step], policy step (imagined), [α step], value step (real), Polyak."""
        info = {}
        if self.config.model_update_in_rounds:
            state, model_info = self.model_step(state, batch)
            info.update(model_info)
        if self.config.round_updates == "simultaneous":  # both gradients at this state, each with its own key
            key_policy, key_value = jax.random.split(state.key)
            moved, policy_info = self.policy_step(state.replace(key=key_policy), batch)
            state, value_info = self.value_step(state.replace(key=key_value), batch)
            state = state.replace(
                params={**state.params, "policy": moved.params["policy"]},
                opt_state={**state.opt_state, "policy": moved.opt_state["policy"]},
            )
            if self.config.auto_alpha:
                state, alpha_info = self.alpha_step(state, batch)
                info.update(alpha_info)
        else:
            state, policy_info = self.policy_step(state, batch)
            if self.config.auto_alpha:
                state, alpha_info = self.alpha_step(state, batch)
                info.update(alpha_info)
            state, value_info = self.value_step(state, batch)
        target_v = polyak_update(state.params["v"], state.target_v, self.config.tau)
        return state.replace(target_v=target_v), {**info, **policy_info, **value_info}

    def update_fn(self, state: MEMBState, batches: Batch, unroll: bool | None = None) -> tuple[MEMBState, dict]:
        """All the updates of one env step, fused: m rounds in a `lax.scan`, then the remaining model steps.

        `batches` has a leading axis of length `batches_per_step`: the first m feed the rounds. `unroll`: the scans
        unrolled (default: `unroll_rounds`).
        """
        m = self.config.updates_per_step
        rounds = jax.tree.map(lambda x: x[:m], batches)
        extra = jax.tree.map(lambda x: x[m:], batches)
        unroll = self.config.unroll_rounds if unroll is None else unroll
        state, info = jax.lax.scan(self.round, state, rounds, unroll=unroll)
        info = jax.tree.map(jnp.mean, info)
        if self.config.model_updates_per_step:
            state, model_info = jax.lax.scan(self.model_step, state, extra, unroll=unroll)
            if not self.config.model_update_in_rounds:
                info.update(jax.tree.map(jnp.mean, model_info))
        return state, {**info, "finite": self.health(state, info)}

    def warmup_fn(self, state: MEMBState, batches: Batch) -> tuple[MEMBState, dict]:
        """The model-only warm-up phase: model steps, nothing else."""
        state, info = jax.lax.scan(self.model_step, state, batches)
        info = jax.tree.map(jnp.mean, info)
        return state, {**info, "finite": self.health(state, info)}

    def health(self, state: MEMBState, info: dict) -> jax.Array:
        """Per component (policy, value, model): are its parameters and its losses finite? A divergence guard."""
        losses = {
            "policy": ("policy_objective",),
            "value": ("q_loss", "v_loss"),
            "model": ("dynamics_loss", "reward_loss", "model_loss"),
            "alpha": ("alpha_loss",),
        }
        params = {
            "policy": state.params["policy"],
            "value": _value_params(state.params),
            "model": _model_params(state.params),
            "alpha": state.params.get("log_alpha"),
        }
        return jnp.stack([all_finite(params[c], [info[k] for k in losses[c] if k in info]) for c in self.components])

    def scale_learning_rate(self, state: MEMBState, component: str, factor: float) -> MEMBState:
        """The state with `component`'s learning rate multiplied by `factor` (a divergence remedy)."""
        return state.replace(opt_state=scale_learning_rate(state.opt_state, component, factor))

    def learning_rates(self, state: MEMBState) -> dict[str, float]:
        return learning_rates(state.opt_state, self.components)

    def rounds_per_step(self, env_step: int) -> int:
        """Actor-critic rounds in the update after env step `env_step` (for updates/s)."""
        return 0 if env_step < self.config.model_warmup_steps else self.config.updates_per_step

    # ------------------------------------------------------------------------ trainer interface
    def batches_per_step(self, env_step: int) -> int:
        """How many replay batches the update after env step `env_step` (0-based) consumes."""
        if env_step < self.config.model_warmup_steps:
            return self.config.model_updates_per_step
        return self.config.updates_per_step + self.config.model_updates_per_step

    def _unrolled_from(self) -> int:
        """The first env step whose update runs the unrolled program (`unroll_rounds_after`). Scans of one step have
        nothing to unroll: both programs then compile alike (InvertedPendulum's preset, compile-cost-…T1003.md), and the
        unrolled one runs from the warm-up's end."""
        c = self.config
        tiered = c.unroll_rounds and max(c.updates_per_step, c.model_updates_per_step) > 1
        return c.model_warmup_steps + (c.unroll_rounds_after if tiered else 0)

    def update(self, state: MEMBState, batches: Batch, env_step: int) -> tuple[MEMBState, dict]:
        if env_step < self.config.model_warmup_steps:
            return self._warmup(state, batches)
        if env_step < self._unrolled_from():
            return self._rolled_update(state, batches)
        return self._update(state, batches)

    def update_function(self, env_step: int):
        """The pure function that `update` runs after env step `env_step` (the multi-seed trainer vmaps it)."""
        if env_step < self.config.model_warmup_steps:
            return self.warmup_fn
        return self.rolled_update_fn if env_step < self._unrolled_from() else self.update_fn

    def update_programs(self) -> list[tuple]:
        """(first env step, jitted program, batches it takes[, env step from which to compile it]) of each program
        `update` runs, in order: each runs from its first step until the next one's. The trainer compiles them ahead,
        beside its loop (training/ahead.py); the unrolled program from halfway through the rolled one's steps, so that
        its compile does not compete with a short run's first updates."""
        warmup, unrolled = self.config.model_warmup_steps, self._unrolled_from()
        full = self.batches_per_step(warmup)
        programs = [(unrolled, self._update, full)]
        if unrolled > warmup:
            programs = [(warmup, self._rolled_update, full), (unrolled, self._update, full, (warmup + unrolled) // 2)]
        if warmup and self.config.model_updates_per_step:
            programs.insert(0, (0, self._warmup, self.batches_per_step(0)))
        return programs

    @staticmethod
    def upgrade_saved_config(agent: dict) -> dict:
        """A run saved before `unroll_rounds_after` existed ran its unrolled program from the warm-up's end."""
        return {"unroll_rounds_after": 0, **agent}

    def model_error_fn(self, state: MEMBState, batch: Batch, valid: jax.Array) -> dict:
        """Errors of the models on real transitions (App. B.2): the mean prediction's L2 error, and the 1-Wasserstein
        distance per dimension (averaged over dimensions) between model samples and the true next states / rewards.
        Only the rows where `valid` is true count (the rest pad the batch to a fixed size).

        The samples use a key derived from the state's without advancing it, so measuring never changes training.
        """
        heads = self._model_heads(state.params, state.normalizer, batch.obs, batch.action)
        (d_mean, _), (r_mean, _) = heads
        pred = batch.obs + d_mean if self.config.predict_delta else d_mean
        s_sample, r_sample = self._reparameterized(heads, jax.random.fold_in(state.key, 0x3E))
        if self.config.predict_delta:
            s_sample = batch.obs + s_sample
        return {
            "model_error_state": masked_mean(jnp.linalg.norm(pred - batch.next_obs, axis=-1), valid),
            "model_error_reward": masked_mean(jnp.abs(r_mean[..., 0] - batch.reward), valid),
            "model_w1_state": jnp.mean(wasserstein_1d(s_sample, batch.next_obs, valid)),
            "model_w1_reward": jnp.mean(wasserstein_1d(r_sample, batch.reward[:, None], valid)),
        }

    def model_error(self, state: MEMBState, batch: Batch) -> dict[str, float]:
        batch, valid = padded(batch)
        return {k: float(v) for k, v in self._model_error(state, batch, valid).items()}


def _model_params(params: Params) -> Params:
    return {"dynamics": params["dynamics"], "reward": params["reward"]}


def _value_params(params: Params) -> Params:
    return {"q": params["q"], "v": params["v"]}


# ------------------------------------------------------------------------------------------- cost model
def dense_flops(batch: int, sizes: list[int]) -> int:
    """Forward FLOPs of the matrix products of an MLP with layer widths `sizes` (input first)."""
    return sum(2 * batch * i * o for i, o in zip(sizes[:-1], sizes[1:], strict=True))


def update_flops(config: MEMBConfig, obs_dim: int, act_dim: int) -> dict[str, int]:
    """Matmul FLOPs of MEMB's updates, counted from the network shapes (a backward pass costs two forwards
    when it needs weight and input gradients, one when it needs only input gradients).

    Returns the FLOPs of one model step, one policy step, one value step, one round (what `updates_per_s`
    counts) and one env step after the warm-up.
    """
    c, b = config, config.batch_size
    sa = obs_dim + act_dim
    pi = dense_flops(b, [obs_dim, *c.policy_hidden, 2 * act_dim])  # mean and log-std heads
    dyn = dense_flops(b, [sa, *c.model_hidden, 2 * obs_dim])
    rew = dense_flops(b, [sa, *c.model_hidden, 2])
    q = dense_flops(b, [sa, *c.value_hidden, 1])
    v = dense_flops(b, [obs_dim, *c.value_hidden, 1])
    model_step = 3 * (dyn + rew)
    # per imagined step: π forward and weight+input backward; models forward and input backward; then V
    policy_step = c.rollout_length * (3 * pi + 2 * (dyn + rew)) + 2 * v
    # V̄(s') forward; Q1, Q2 forward+backward; π forward; Q1, Q2 at π's action forward; V forward+backward
    value_step = v + 3 * 2 * q + pi + 2 * q + 3 * v
    round_ = policy_step + value_step + (model_step if c.model_update_in_rounds else 0)
    return {
        "model_step": model_step,
        "policy_step": policy_step,
        "value_step": value_step,
        "round": round_,
        "env_step": c.updates_per_step * round_ + c.model_updates_per_step * model_step,
    }


# ------------------------------------------------------------------------------------------------ SVG(1)
@dataclass(frozen=True)
class SVGConfig(MEMBConfig):
    """SVG(1) with experience replay (Heess et al. 2015; eq. 1 of the MEMB paper): the same agent with the policy
    gradient taken at real transitions through the learned models' Jacobians (`policy_gradient="real"`), importance
    weights π(a|s)/μ(a|s) capped at 5, one actor-critic round per env step, and no entropy bonus (α = 0; the
    stochastic policy explores by itself). Shares every line of code with MEMB's `real` ablation."""

    policy_gradient: Literal["model", "real"] = "real"
    importance_weight_cap: float = 5.0
    updates_per_step: int = 1
    alpha: float = 0.0


class SVG(MEMB):
    name = "svg"
    Config = SVGConfig
