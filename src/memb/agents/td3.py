"""TD3: Twin Delayed Deep Deterministic policy gradient (Fujimoto, van Hoof, Meger 2018), and DDPG (Lillicrap et al.
2015) as its special case with one critic, no delay and no target smoothing.

Reads top to bottom: the config, the state, the critic loss (clipped double Q with target policy smoothing, §4.2 and
§5.3 of the TD3 paper), the actor loss (deterministic policy gradient), one update with the delayed actor and targets.
Actions live in [-1, 1]^d, so noise scales are fractions of the action range's half-width ("× max action").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from memb import config as cfg
from memb.agents.common import Batch, all_finite, learning_rates, polyak_update, scale_learning_rate
from memb.networks import MLP, QEnsemble
from memb.networks.mlp import final_dense

Params = Any


@dataclass(frozen=True)
class TD3Config:
    """The TD3 authors' current code (facts.md §6)."""

    gamma: float = 0.99
    tau: float = 0.005
    batch_size: int = 256
    policy_hidden: tuple[int, ...] = (256, 256)
    value_hidden: tuple[int, ...] = (256, 256)
    policy_lr: float = 3e-4
    value_lr: float = 3e-4
    value_weight_decay: float = 0.0  # L2 on the critic (DDPG: 1e-2): λθ added to the gradient of its loss
    value_loss_scale: float = 0.5  # the critic's loss is scale · E Σ_i (Q_i − y)² (DDPG 2015: 1, its L; TD3: ½)
    num_critics: int = 2  # clipped double Q (DDPG: 1)
    critic_action_layer: int = 0  # the critic's hidden layer whose input the action joins (DDPG: 1)
    final_init: float = 0.0  # > 0: output layers of actor and critic drawn from U(±final_init) (DDPG: 3e-3)
    policy_batch_norm: bool = False  # batch normalization of the actor's input and hidden layers (DDPG 2015, §7)
    value_batch_norm: bool = False  # ... and of the critic's state input and layers before the action (ibid.)
    exploration_noise: float = 0.1  # σ of the noise added while acting
    exploration: str = "gaussian"  # "gaussian": i.i.d. N(0, σ²); "ou": Ornstein-Uhlenbeck (DDPG 2015, §7)
    ou_theta: float = 0.15  # the OU process's pull towards 0 per env step, θ: x ← (1 − θ)x + σε
    target_noise: float = 0.2  # target policy smoothing (§5.3); 0 turns it off
    target_noise_clip: float = 0.5
    policy_delay: int = 2  # actor and target updates every `policy_delay` critic updates
    updates_per_step: int = 1
    random_steps: int = 25_000  # uniformly random actions first, no updates meanwhile

    def __post_init__(self) -> None:
        cfg.normalize(self)
        cfg.in_range("gamma", self.gamma, 0.0, 1.0)
        cfg.in_range("tau", self.tau, 0.0, 1.0, closed_high=True)
        cfg.positive("batch_size", self.batch_size, integer=True)
        for name in ("policy_hidden", "value_hidden"):
            cfg.layer_sizes(name, getattr(self, name))
        for name in ("policy_lr", "value_lr", "value_loss_scale"):
            cfg.positive(name, getattr(self, name))
        for name in ("value_weight_decay", "exploration_noise", "target_noise", "target_noise_clip"):
            cfg.non_negative(name, getattr(self, name))
        cfg.one_of("num_critics", self.num_critics, (1, 2))
        cfg.one_of("exploration", self.exploration, ("gaussian", "ou"))
        cfg.in_range("ou_theta", self.ou_theta, 0.0, 1.0, closed_high=True)
        cfg.non_negative("critic_action_layer", self.critic_action_layer, integer=True)
        cfg.in_range("critic_action_layer", self.critic_action_layer, 0, len(self.value_hidden))
        cfg.non_negative("final_init", self.final_init)
        if self.value_batch_norm and self.critic_action_layer == 0:
            raise cfg.ConfigError(
                "value_batch_norm normalizes the critic's layers before the action, and with critic_action_layer 0 "
                "there are none; set critic_action_layer to 1 or more, or value_batch_norm to false"
            )
        cfg.positive("policy_delay", self.policy_delay, integer=True)
        cfg.positive("updates_per_step", self.updates_per_step, integer=True)
        cfg.non_negative("random_steps", self.random_steps, integer=True)


class DeterministicPolicy(nn.Module):
    """μ(s) = tanh(MLP(s)) in [-1, 1]^d.

    With `batch_norm`, the state input and every hidden layer's pre-activation are batch-normalized (Lillicrap et al.
    2015, §7): batch statistics while the actor learns (`train=True`, which also updates the running averages in the
    `batch_stats` collection), the running averages when acting and in the critic's target.
    """

    hidden: tuple[int, ...]
    act_dim: int
    final_init: float = 0.0
    batch_norm: bool = False

    @nn.compact
    def __call__(self, s: jax.Array, train: bool = False) -> jax.Array:
        if self.final_init == 0 and not self.batch_norm:
            return jnp.tanh(MLP(self.hidden, self.act_dim)(s))

        def norm(x):
            return nn.BatchNorm(use_running_average=not train)(x) if self.batch_norm else x

        s = norm(s)
        for width in self.hidden:
            s = nn.relu(norm(nn.Dense(width)(s)))
        return jnp.tanh(final_dense(self.act_dim, self.final_init)(s))


@flax.struct.dataclass
class TD3State:
    params: dict[str, Params]  # policy, q
    target: dict[str, Params]  # policy, q
    opt_state: dict[str, Any]  # policy, value
    updates: jax.Array  # critic updates so far (for the delay)
    key: jax.Array


class TD3:
    name = "td3"
    Config = TD3Config
    components = ("policy", "value")
    uses_behavior_log_prob = False

    def __init__(self, config: TD3Config, obs_dim: int, act_dim: int):
        self.config, self.obs_dim, self.act_dim = config, obs_dim, act_dim
        c = config
        self.policy_net = DeterministicPolicy(tuple(c.policy_hidden), act_dim, c.final_init, c.policy_batch_norm)
        self.q_net = QEnsemble(c.value_hidden, c.num_critics, c.critic_action_layer, c.final_init, c.value_batch_norm)
        self.policy_opt = optax.inject_hyperparams(optax.adam)(learning_rate=c.policy_lr)

        # DDPG's L2 weight decay on the critic is added to the gradient (Adam with L2, as the 2015 paper), on its dense
        # layers only: decaying a batch norm's scale would shrink the very output the norm keeps at unit scale (the
        # mask only where there are norms, so that the optimizer state of a critic without them keeps its structure)
        def critic_adam(learning_rate):
            decay = optax.add_decayed_weights(c.value_weight_decay, mask=_dense_only if c.value_batch_norm else None)
            return optax.chain(decay, optax.adam(learning_rate))

        self.value_opt = optax.inject_hyperparams(critic_adam)(learning_rate=c.value_lr)
        self._update = jax.jit(self.update_fn)
        self._act = jax.jit(self.act_fn, static_argnames="deterministic")

    def init(self, key: jax.Array) -> TD3State:
        kp, kq, key = jax.random.split(key, 3)
        s, a = jnp.zeros((1, self.obs_dim)), jnp.zeros((1, self.act_dim))
        params = {"policy": self.policy_net.init(kp, s), "q": self.q_net.init(kq, s, a)}
        return TD3State(
            params=params,
            target=params,
            opt_state={"policy": self.policy_opt.init(params["policy"]), "value": self.value_opt.init(params["q"])},
            updates=jnp.zeros((), jnp.int32),
            key=key,
        )

    # ----------------------------------------------------------------------------------- acting
    def act_carry(self, key: jax.Array):
        """What acting carries from one env step to the next (the trainer threads it and checkpoints it): the key;
        with OU exploration also the noise process's value x, 0 at the start of every episode."""
        if self.config.exploration == "ou":
            return {"key": key, "noise": jnp.zeros(self.act_dim, jnp.float32)}
        return key

    def reset_act_carry(self, carry):
        """At the end of an episode: the OU process starts again from 0 (DDPG 2015, Algorithm 1)."""
        if self.config.exploration == "ou":
            return {**carry, "noise": jnp.zeros_like(carry["noise"])}
        return carry

    def act_fn(self, policy_params: Params, obs: jax.Array, carry, deterministic: bool = False):
        """a = clip(μ(s) + noise, −1, 1). Gaussian: noise = σε; OU: x ← (1 − θ)x + σε (Euler step with dt = 1),
        noise = x; ε ~ N(0, I). Deterministic: μ(s), the carry's noise unchanged."""
        c = self.config
        ou = isinstance(carry, dict)
        key, sub = jax.random.split(carry["key"] if ou else carry)
        action = self.policy_net.apply(policy_params, obs)
        if deterministic or c.exploration_noise == 0:
            return action, ({**carry, "key": key} if ou else key)
        eps = jax.random.normal(sub, action.shape)
        if not ou:
            return jnp.clip(action + c.exploration_noise * eps, -1.0, 1.0), key
        noise = (1.0 - c.ou_theta) * carry["noise"] + c.exploration_noise * eps
        return jnp.clip(action + noise, -1.0, 1.0), {"key": key, "noise": noise}

    def act(self, state: TD3State, obs: np.ndarray, carry, deterministic: bool = False):
        obs = np.asarray(obs, np.float32)
        if self.config.exploration == "ou" and not deterministic and not isinstance(carry, dict):
            # a bare key (the Python API): the process starts at 0, one value per observation of a batch
            carry = {"key": carry, "noise": jnp.zeros((*obs.shape[:-1], self.act_dim), jnp.float32)}
        action, carry = self._act(state.params["policy"], obs, carry, deterministic=deterministic)
        return np.asarray(action), carry

    # ------------------------------------------------------------------------------------ critic
    def target_action(self, target_policy: Params, next_obs: jax.Array, key) -> jax.Array:
        """ã = clip(μ̄(s') + clip(ε, −c, c), −1, 1), ε ~ N(0, σ̃²): target policy smoothing (TD3 eq. 14)."""
        c = self.config
        a = self.policy_net.apply(target_policy, next_obs)
        if c.target_noise == 0:
            return a
        eps = jnp.clip(c.target_noise * jax.random.normal(key, a.shape), -c.target_noise_clip, c.target_noise_clip)
        return jnp.clip(a + eps, -1.0, 1.0)

    def critic_loss(self, q_params: Params, target: dict, batch: Batch, key):
        """c E Σ_i (Q_i(s,a) − y)², y = r + γ(1 − d) min_j Q̄_j(s', ã) (TD3 eq. 10; DDPG: one critic, ã = μ̄(s')).

        c is `value_loss_scale`. Adam makes it irrelevant, except beside the L2 decay, whose λθ it weighs against:
        the DDPG paper's L is the plain mean (c = 1), and with the ½ of TD3's form its decay would count twice."""
        a_next = self.target_action(target["policy"], batch.next_obs, key)
        q_next = self.q_net.apply(target["q"], batch.next_obs, a_next).min(axis=0)  # target running averages
        y = batch.reward + self.config.gamma * (1.0 - batch.terminated) * q_next
        q, stats = self.q_train(q_params, batch.obs, batch.action)
        loss = self.config.value_loss_scale * jnp.mean(jnp.sum((q - jax.lax.stop_gradient(y)) ** 2, axis=0))
        return loss, {"q_loss": loss, "q_mean": q.mean(), **({"batch_stats": stats} if stats else {})}

    def q_train(self, q_params: Params, s: jax.Array, a: jax.Array):
        """Q(s, a) while learning, and the critic's moved running averages ({} without batch normalization)."""
        if not self.config.value_batch_norm:
            return self.q_net.apply(q_params, s, a), {}
        q, stats = self.q_net.apply(q_params, s, a, train=True, mutable=["batch_stats"])
        return q, stats["batch_stats"]

    # ------------------------------------------------------------------------------------- actor
    def actor_loss(self, policy_params: Params, q_params: Params, obs: jax.Array):
        """−E Q_1(s, μ(s)): the deterministic policy gradient through the first critic.

        Returns the loss and the actor's variables after this forward pass: with batch normalization, its running
        averages move towards this batch's statistics (they get no gradient, as the loss does not read them)."""
        if not self.config.policy_batch_norm:
            action, variables = self.policy_net.apply(policy_params, obs), policy_params
        else:
            action, stats = self.policy_net.apply(policy_params, obs, train=True, mutable=["batch_stats"])
            variables = {**policy_params, **stats}
        q = self.q_train(q_params, obs, action)[0][0]  # with batch normalization: this batch's statistics
        return -jnp.mean(q), variables

    # ------------------------------------------------------------------------------ one update
    def update_step(self, state: TD3State, batch: Batch) -> tuple[TD3State, dict]:
        c = self.config
        key, sub = jax.random.split(state.key)
        grads, info = jax.grad(self.critic_loss, has_aux=True)(state.params["q"], state.target, batch, sub)
        updates, value_opt = self.value_opt.update(grads, state.opt_state["value"], state.params["q"])
        q_params = optax.apply_updates(state.params["q"], updates)
        if "batch_stats" in info:  # the running averages take this batch's values (their gradient is 0)
            q_params = {**q_params, "batch_stats": info.pop("batch_stats")}
        count = state.updates + 1

        def delayed(_):
            (loss, variables), grads = jax.value_and_grad(self.actor_loss, has_aux=True)(
                state.params["policy"], q_params, batch.obs
            )
            # the running averages' gradient is exactly 0, so Adam leaves them; they take the forward pass's values
            updates, policy_opt = self.policy_opt.update(grads, state.opt_state["policy"], state.params["policy"])
            stepped = optax.apply_updates(state.params["policy"], updates)
            policy = {**stepped, **{k: v for k, v in variables.items() if k != "params"}}
            target = polyak_update({"policy": policy, "q": q_params}, state.target, c.tau)
            return policy, policy_opt, target, loss

        def skip(_):
            return state.params["policy"], state.opt_state["policy"], state.target, jnp.nan

        policy, policy_opt, target, policy_loss = jax.lax.cond(count % c.policy_delay == 0, delayed, skip, None)
        state = state.replace(
            params={"policy": policy, "q": q_params},
            target=target,
            opt_state={"policy": policy_opt, "value": value_opt},
            updates=count,
            key=key,
        )
        return state, {**info, "policy_loss": policy_loss}

    def update_fn(self, state: TD3State, batches: Batch) -> tuple[TD3State, dict]:
        state, info = jax.lax.scan(self.update_step, state, batches)
        policy_loss = jnp.nanmean(info.pop("policy_loss"))  # NaN where the actor waited
        info = {**jax.tree.map(jnp.mean, info), "policy_loss": policy_loss}
        # the targets are Polyak averages of online parameters that each passed this check: not read again
        finite = jnp.stack([all_finite(state.params["policy"]), all_finite(state.params["q"], info["q_loss"])])
        return state, {**info, "finite": finite}

    # ------------------------------------------------------------------------ trainer interface
    def batches_per_step(self, env_step: int) -> int:
        return 0 if env_step < self.config.random_steps else self.config.updates_per_step

    def rounds_per_step(self, env_step: int) -> int:
        return self.batches_per_step(env_step)

    def update(self, state: TD3State, batches: Batch, env_step: int) -> tuple[TD3State, dict]:
        return self._update(state, batches)

    def update_function(self, env_step: int):
        """The pure function that `update` runs (the multi-seed trainer vmaps it)."""
        return self.update_fn

    def update_programs(self) -> list[tuple[int, object, int]]:
        """(first env step, jitted program, batches it takes) of the program `update` runs; the trainer compiles it
        ahead, while the random phase runs and the first batch fills (training/ahead.py)."""
        return [(self.config.random_steps, self._update, self.config.updates_per_step)]

    def model_error(self, state: TD3State, batch: Batch) -> dict[str, float]:
        return {}

    def scale_learning_rate(self, state: TD3State, component: str, factor: float) -> TD3State:
        return state.replace(opt_state=scale_learning_rate(state.opt_state, component, factor))

    def learning_rates(self, state: TD3State) -> dict[str, float]:
        return learning_rates(state.opt_state, self.components)


def _dense_only(params: Params) -> Any:
    """True for the leaves of dense layers, False for batch norms' scales and biases and their running averages."""

    def keep(path, _):
        names = [str(getattr(k, "key", k)) for k in path]
        return "batch_stats" not in names and not any(n.startswith("BatchNorm") for n in names)

    return jax.tree_util.tree_map_with_path(keep, params)


@dataclass(frozen=True)
class DDPGConfig(TD3Config):
    """DDPG (Lillicrap et al. 2015) as TD3 with one critic, no delay, no target smoothing, and the 2015 settings.

    As in the paper, the action joins the critic at its second layer, the output layers start in U(±3e-3), and the
    exploration noise is an Ornstein-Uhlenbeck process (θ 0.15, σ 0.2, restarted at 0 every episode). The critic's
    loss is the paper's plain mean squared TD error, beside which its L2 1e-2 was set: with TD3's ½ of it the decay
    weighed twice, and on HalfCheetah-v5 it shrank the critic until the actor held one constant action
    (benchmarks/results/baselines/ddpg-collapse/). The paper's batch normalization of the actor and of the critic's
    layers before the action is on (since session 13; saved runs without the switches read back without it). At the
    paper's balance, HalfCheetah-v5's seeds 0–2 ended at 200k at −141, −146 and 933 without it, and at 1339, −515
    and 1380 with it; on Hopper-v5 at 100k seed 0 ended at 38 without, and seeds 0–2 at 784, −2 and 38 with
    (ibid.). DDPG stays unsteady.
    """

    batch_size: int = 64
    policy_hidden: tuple[int, ...] = (400, 300)
    value_hidden: tuple[int, ...] = (400, 300)
    policy_lr: float = 1e-4
    value_lr: float = 1e-3
    value_weight_decay: float = 1e-2
    value_loss_scale: float = 1.0  # the paper's L = (1/N) Σ (y − Q)² (its Algorithm 1), beside which 1e-2 was set
    tau: float = 0.001
    num_critics: int = 1
    exploration_noise: float = 0.2
    exploration: str = "ou"
    target_noise: float = 0.0
    policy_delay: int = 1
    random_steps: int = 0
    critic_action_layer: int = 1
    final_init: float = 3e-3
    policy_batch_norm: bool = True  # the paper's §7: the state input and every layer of μ
    value_batch_norm: bool = True  # ... and the layers of Q before the action joins


class DDPG(TD3):
    name = "ddpg"
    Config = DDPGConfig

    @staticmethod
    def upgrade_saved_config(agent: dict) -> dict:
        """A run saved before DDPG's exploration became the paper's OU process explored with Gaussian noise; one saved
        before its critic's loss became the paper's plain mean squared error had half of it (TD3's ½); one saved
        before a batch-norm switch existed (the actor's came first, in session 10) had no batch norm there."""
        agent = agent if "exploration" in agent else {**agent, "exploration": "gaussian"}
        agent = agent if "value_loss_scale" in agent else {**agent, "value_loss_scale": 0.5}
        return {"policy_batch_norm": False, "value_batch_norm": False, **agent}
