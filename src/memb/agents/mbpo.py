"""MBPO: Model-Based Policy Optimization (Janner et al. 2019, "When to Trust Your Model"), Algorithm 2.

Reads top to bottom: the config (the authors' public settings), the state, the model (a probabilistic ensemble trained
on all real data with a hold-out set and elites), the branched rollouts into the model buffer, and SAC on a mix of real
and model data. Per env step t:

    if t % model_train_freq == 0:  train the ensemble on D_env until its hold-out loss stops improving;
                                   pick the elites; k ← schedule(epoch);
                                   roll the policy out k steps from `rollout_batch_size` states of D_env,
                                   each model step from a random elite, into D_model
    G times:                       one SAC update (sac.py) on real_ratio · B real, the rest model transitions

Everything in the hot path is jitted: the G updates are one `lax.scan` that samples D_model on the device, a rollout is
one `lax.scan` over k, and the ensemble trains in chunks of minibatches per call. The host only draws the hold-out split
and the bootstrap orderings (with the trainer's seeded generator) and decides when an epoch of model training stops.

Where this differs from the authors' TensorFlow code, on purpose:
- each rollout step sends an equal share of the states, chosen at random, to each elite (the authors draw a member per
  state independently), so that a step costs one model evaluation per state instead of one per elite;
- the last minibatch of a model-training epoch is filled up from the epoch's start instead of being smaller;
- the model buffer has the capacity of the longest rollouts from the start and samples only the most recent
  retain_epochs epochs' worth of the current k (the authors reallocate it when k changes): the same data are sampled.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from memb import config as cfg
from memb.agents.common import Batch, adam, all_finite, masked_mean, padded, scale_learning_rate
from memb.agents.sac import SAC, SACConfig, SACState
from memb.networks import MLP
from memb.networks.analytic import TERMINATION_FUNCTIONS, never
from memb.networks.ensemble import Ensemble, ensemble_loss, select

Params = Any
IMPROVEMENT = 0.01  # a member improves when its hold-out loss falls by more than 1% (the authors' _save_best)
CHUNK = 32  # model-training minibatches per jitted call, at most (fewer, a power of two, on small datasets)


@dataclass(frozen=True)
class MBPOConfig(SACConfig):
    """The authors' defaults (facts.md §6); per-task values are in TASK_PRESETS."""

    random_steps: int = 5_000
    updates_per_step: int = 20  # G
    real_ratio: float = 0.05  # of each SAC batch
    ensemble_size: int = 7
    num_elites: int = 5
    model_hidden: tuple[int, ...] = (200, 200, 200, 200)
    model_lr: float = 1e-3
    model_weight_decay: float = 5e-5  # the authors' per-layer decays are 2.5e-5 … 1e-4; one value here
    model_batch_size: int = 256
    model_train_freq: int = 250
    holdout_ratio: float = 0.2
    max_holdout: int = 5_000
    model_patience: int = 5  # epochs with no member improving before model training stops
    model_max_epochs: int = 0  # a cap on model-training epochs per retraining (0: none, as the authors)
    rollout_batch_size: int = 100_000
    rollout_schedule: tuple[int, ...] = (20, 100, 1, 1)  # [a, b, k_min, k_max]: k grows from epoch a to epoch b
    model_retain_epochs: int = 1
    epoch_steps: int = 1_000  # env steps per MBPO epoch (the schedule and the model buffer's size count these)
    termination: str = "learned"  # an env id with a known function (networks/analytic.py), "never", or "learned"

    def __post_init__(self) -> None:
        super().__post_init__()
        cfg.in_range("real_ratio", self.real_ratio, 0.0, 1.0, closed_high=True)
        for name in (
            "ensemble_size",
            "num_elites",
            "model_batch_size",
            "model_train_freq",
            "max_holdout",
            "model_patience",
            "rollout_batch_size",
            "model_retain_epochs",
            "epoch_steps",
        ):
            cfg.positive(name, getattr(self, name), integer=True)
        cfg.non_negative("model_max_epochs", self.model_max_epochs, integer=True)
        cfg.layer_sizes("model_hidden", self.model_hidden)
        cfg.positive("model_lr", self.model_lr)
        cfg.non_negative("model_weight_decay", self.model_weight_decay)
        cfg.in_range("holdout_ratio", self.holdout_ratio, 0.0, 1.0)
        if self.num_elites > self.ensemble_size:
            raise cfg.ConfigError(
                f"num_elites ({self.num_elites}) must be at most ensemble_size ({self.ensemble_size})"
            )
        a, b, k_min, k_max = _schedule(self.rollout_schedule)
        if not (0 <= a < b or (a == b and k_min == k_max)) or not 1 <= k_min <= k_max:
            raise cfg.ConfigError(
                f"rollout_schedule must be [a, b, k_min, k_max] with 0 <= a < b and 1 <= k_min <= k_max, "
                f"got {list(self.rollout_schedule)}"
            )
        if self.termination not in (*TERMINATION_FUNCTIONS, "never", "learned"):
            known = ", ".join((*TERMINATION_FUNCTIONS, "never", "learned"))
            raise cfg.ConfigError(f"termination must be one of {known}; got {self.termination!r}")
        if self.batch_size - self.real_batch_size < 1 and self.real_ratio < 1:
            raise cfg.ConfigError("batch_size is too small to hold model data at this real_ratio; raise batch_size")

    @property
    def real_batch_size(self) -> int:
        return max(1, int(self.batch_size * self.real_ratio))  # the authors: int(256 * 0.05) = 12


def _schedule(value) -> tuple[int, int, int, int]:
    if len(value) != 4:
        raise cfg.ConfigError(f"rollout_schedule must be four integers [a, b, k_min, k_max], got {list(value)}")
    return tuple(int(v) for v in value)  # type: ignore[return-value]


# MBPO's per-task settings (its public configs), for --preset paper
TASK_PRESETS: dict[str, dict[str, Any]] = {
    "Hopper-v5": {"rollout_schedule": (20, 100, 1, 15), "target_entropy": -1.0, "termination": "Hopper-v5"},
    "Walker2d-v5": {"rollout_schedule": (20, 100, 1, 1), "target_entropy": -3.0, "termination": "Walker2d-v5"},
    "HalfCheetah-v5": {
        "rollout_schedule": (20, 100, 1, 1),
        "target_entropy": -3.0,
        "updates_per_step": 40,
        "termination": "HalfCheetah-v5",
    },
    "InvertedPendulum-v5": {
        "rollout_schedule": (1, 15, 1, 1),
        "termination": "InvertedPendulum-v5",
        "random_steps": 500,
        "epoch_steps": 250,
    },
    **{env: {"termination": env} for env in ("Pendulum-v1", "Swimmer-v5", "Reacher-v5")},
}


def rollout_length(config: MBPOConfig, env_step: int) -> int:
    """k at this env step: k_min up to epoch a, then linear to k_max at epoch b (the authors' set_rollout_length)."""
    a, b, k_min, k_max = _schedule(config.rollout_schedule)
    epoch = env_step // config.epoch_steps
    if epoch <= a:
        return k_min
    return int(min((epoch - a) / max(b - a, 1), 1.0) * (k_max - k_min) + k_min)


def model_buffer_window(config: MBPOConfig, k: int) -> int:
    """How many of the newest model transitions are sampled: retain_epochs epochs of rollouts of length k."""
    rollouts_per_epoch = config.rollout_batch_size * config.epoch_steps / config.model_train_freq
    return config.model_retain_epochs * int(k * rollouts_per_epoch)


@flax.struct.dataclass
class ModelBuffer:
    """D_model: a ring buffer of imagined transitions on the device."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array
    ptr: jax.Array
    size: jax.Array


@flax.struct.dataclass
class MBPOState:
    sac: SACState
    model: Params  # the ensemble, [E, ...]
    model_opt: Any
    termination: Params  # the learned termination classifier (unused with a known function)
    termination_opt: Any
    input_mean: jax.Array  # the inputs' scaler, fitted on the training split at each retraining
    input_std: jax.Array
    elites: jax.Array  # [num_elites] member indices
    buffer: ModelBuffer
    key: jax.Array


class MBPO:
    name = "mbpo"
    Config = MBPOConfig
    components = ("policy", "value", "alpha", "model")
    uses_behavior_log_prob = False

    def __init__(self, config: MBPOConfig, obs_dim: int, act_dim: int):
        self.config, self.obs_dim, self.act_dim = config, obs_dim, act_dim
        c = config
        sac_fields = {f.name: getattr(c, f.name) for f in dataclasses.fields(SACConfig)}
        self.sac = SAC(SACConfig(**{**sac_fields, "batch_size": c.batch_size}), obs_dim, act_dim)
        self.ensemble = Ensemble(c.model_hidden, 1 + obs_dim, c.ensemble_size)  # outputs (r, s' − s)
        self.classifier = MLP((200, 200), 1)
        self.model_opt, self.termination_opt = adam(c.model_lr), adam(c.model_lr)
        # terminated(s') for rollouts; None: the learned classifier
        self.terminated = None if c.termination == "learned" else TERMINATION_FUNCTIONS.get(c.termination, never)
        _, _, _, k_max = _schedule(c.rollout_schedule)
        self.rollout_states = math.ceil(c.rollout_batch_size / c.num_elites) * c.num_elites
        self.buffer_capacity = max(model_buffer_window(c, k_max), self.rollout_states * k_max)
        self.model_start = max(c.random_steps, c.batch_size - 1)  # the first step with SAC updates
        self._update = jax.jit(self.update_fn)
        self._train_chunk = jax.jit(self.train_chunk)
        self._holdout_mse = jax.jit(self.holdout_mse)
        self._rollout = jax.jit(self.rollout, static_argnames="k")
        self._model_error = jax.jit(self.model_error_fn)

    def init(self, key: jax.Array) -> MBPOState:
        k_sac, k_model, k_term, key = jax.random.split(key, 4)
        model = self.ensemble.init(k_model, self.obs_dim + self.act_dim)
        termination = self.classifier.init(k_term, jnp.zeros((1, self.obs_dim)))
        cap, d, a = self.buffer_capacity, self.obs_dim, self.act_dim
        zeros = jnp.zeros
        return MBPOState(
            sac=self.sac.init(k_sac),
            model=model,
            model_opt=self.model_opt.init(model),
            termination=termination,
            termination_opt=self.termination_opt.init(termination),
            input_mean=zeros(d + a),
            input_std=jnp.ones(d + a),
            elites=jnp.arange(self.config.num_elites, dtype=jnp.int32),
            buffer=ModelBuffer(
                zeros((cap, d)), zeros((cap, a)), zeros(cap), zeros((cap, d)), zeros(cap), jnp.int32(0), jnp.int32(0)
            ),
            key=key,
        )

    # ----------------------------------------------------------------------------------- acting
    def act(self, state: MBPOState, obs: np.ndarray, key: jax.Array, deterministic: bool = False):
        return self.sac.act(state.sac, obs, key, deterministic)

    # ------------------------------------------------------------------------- the model: training
    def _inputs(self, state: MBPOState, obs: jax.Array, action: jax.Array) -> jax.Array:
        return (jnp.concatenate([obs, action], axis=-1) - state.input_mean) / state.input_std

    def train_chunk(self, state: MBPOState, data: Batch, idx: jax.Array, valid: jax.Array, pos_weight: jax.Array):
        """A chunk of minibatches of model training. idx: [C, E, B] rows of `data` (each member its own bootstrap
        ordering); `valid` masks the padding of an epoch's last chunk. The termination classifier, when learned,
        trains on member 0's rows: weighted binary cross-entropy of `terminated` given s'."""
        learned = self.terminated is None

        def step(carry, xs):
            model, model_opt, term, term_opt = carry
            rows, ok = xs
            x = self._inputs(state, data.obs[rows], data.action[rows])  # [E, B, in]
            y = jnp.concatenate([data.reward[rows][..., None], data.next_obs[rows] - data.obs[rows]], axis=-1)
            grads = jax.grad(lambda p: ensemble_loss(self.ensemble, p, x, y, self.config.model_weight_decay)[0])(model)
            updates, new_opt = self.model_opt.update(grads, model_opt, model)
            new_model = optax.apply_updates(model, updates)
            keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, old)  # noqa: E731
            model, model_opt = keep(new_model, model), keep(new_opt, model_opt)
            if learned:
                r0 = rows[0]
                grads = jax.grad(self.termination_loss)(term, state, data.next_obs[r0], data.terminated[r0], pos_weight)
                updates, new_term_opt = self.termination_opt.update(grads, term_opt, term)
                term, term_opt = keep(optax.apply_updates(term, updates), term), keep(new_term_opt, term_opt)
            return (model, model_opt, term, term_opt), None

        carry = (state.model, state.model_opt, state.termination, state.termination_opt)
        (model, model_opt, term, term_opt), _ = jax.lax.scan(step, carry, (idx, valid))
        return state.replace(model=model, model_opt=model_opt, termination=term, termination_opt=term_opt)

    def termination_logit(self, params: Params, state: MBPOState, next_obs: jax.Array) -> jax.Array:
        obs_mean, obs_std = state.input_mean[: self.obs_dim], state.input_std[: self.obs_dim]
        return self.classifier.apply(params, (next_obs - obs_mean) / obs_std)[..., 0]

    def termination_loss(self, params, state, next_obs, terminated, pos_weight):
        """−E[w d log σ(z) + (1 − d) log(1 − σ(z))], w = #negatives / #positives of the training split."""
        z = self.termination_logit(params, state, next_obs)
        return -jnp.mean(pos_weight * terminated * jax.nn.log_sigmoid(z) + (1 - terminated) * jax.nn.log_sigmoid(-z))

    def holdout_mse(self, state: MBPOState, data: Batch, rows: jax.Array, mask: jax.Array) -> jax.Array:
        """Per member: the mean squared error of its mean prediction on the hold-out rows (the authors' elite and
        early-stopping criterion). `mask` marks the real rows of the fixed-size `rows`."""
        x = self._inputs(state, data.obs[rows], data.action[rows])
        y = jnp.concatenate([data.reward[rows][:, None], data.next_obs[rows] - data.obs[rows]], axis=-1)
        x = jnp.broadcast_to(x, (self.config.ensemble_size, *x.shape))
        mean, _ = self.ensemble.apply(state.model, x)
        per_row = jnp.mean((mean - y) ** 2, axis=-1)  # [E, N]
        return jnp.sum(per_row * mask, axis=-1) / jnp.sum(mask)

    def train_model(self, state: MBPOState, data: Batch, size: int, rng: np.random.Generator):
        """Fit the ensemble to the first `size` rows of `data` (D_env): hold out min(20%, 5000) rows, bootstrap each
        member's training rows, train epoch by epoch until no member's hold-out loss improves by 1% for
        `model_patience` epochs, then take the members with the lowest hold-out loss as the elites."""
        c = self.config
        order = rng.permutation(size)
        n_hold = min(int(size * c.holdout_ratio), c.max_holdout)
        hold, train = order[:n_hold], order[n_hold:]
        inputs = np.concatenate([data.obs[train], data.action[train]], axis=-1)
        std = inputs.std(axis=0)
        state = state.replace(
            input_mean=jnp.asarray(inputs.mean(axis=0)), input_std=jnp.asarray(np.where(std < 1e-12, 1.0, std))
        )
        positives = float(data.terminated[train].sum())
        pos_weight = jnp.float32((len(train) - positives) / positives if positives else 1.0)
        hold_rows = np.zeros(c.max_holdout, np.int64)
        hold_rows[:n_hold] = hold
        hold_mask = jnp.asarray(np.arange(c.max_holdout) < n_hold, jnp.float32)
        device_data = jax.device_put(data)
        bootstrap = train[rng.integers(0, len(train), size=(c.ensemble_size, len(train)))]  # [E, N]
        batches = math.ceil(len(train) / c.model_batch_size)
        best = np.full(c.ensemble_size, 1e10)
        since, epoch = 0, 0
        while True:
            shuffled = np.take_along_axis(bootstrap, rng.random(bootstrap.shape).argsort(axis=1), axis=1)
            padded = np.resize(shuffled, (c.ensemble_size, batches * c.model_batch_size))  # the last batch wraps
            idx = padded.reshape(c.ensemble_size, batches, c.model_batch_size).transpose(1, 0, 2)
            size = min(CHUNK, 1 << (batches - 1).bit_length())  # few compiled shapes, little padding
            for start in range(0, batches, size):
                chunk = idx[start : start + size]
                valid = np.arange(size) < len(chunk)
                chunk = np.concatenate([chunk, np.zeros((size - len(chunk), *chunk.shape[1:]), np.int64)])
                state = self._train_chunk(state, device_data, jnp.asarray(chunk), jnp.asarray(valid), pos_weight)
            epoch += 1
            mse = np.asarray(self._holdout_mse(state, device_data, jnp.asarray(hold_rows), hold_mask))
            improved = (best - mse) / best > IMPROVEMENT
            best = np.where(improved, mse, best)
            since = 0 if improved.any() else since + 1
            if since > c.model_patience or (c.model_max_epochs and epoch >= c.model_max_epochs):
                break
        elites = np.argsort(mse, kind="stable")[: c.num_elites]
        state = state.replace(elites=jnp.asarray(elites, jnp.int32))
        return state, {"model_holdout_mse": float(np.mean(mse[elites])), "model_epochs": float(epoch)}

    # ------------------------------------------------------------------------ branched rollouts
    def predict(self, state: MBPOState, obs: jax.Array, action: jax.Array, key: jax.Array):
        """One model step of every state, sampled from the Gaussian of a random elite: the states are split at random
        into equal shares, one per elite. Returns r̂, ŝ' and the termination flag."""
        n, e = obs.shape[0], self.config.num_elites
        k_perm, k_noise = jax.random.split(key)
        perm = jax.random.permutation(k_perm, n)
        x = self._inputs(state, obs, action)[perm].reshape(e, n // e, -1)
        mean, logvar = self.ensemble.apply(select(state.model, state.elites), x)
        sample = mean + jnp.exp(0.5 * logvar) * jax.random.normal(k_noise, mean.shape)
        out = jnp.zeros((n, 1 + self.obs_dim)).at[perm].set(sample.reshape(n, -1))
        reward, next_obs = out[:, 0], obs + out[:, 1:]
        if self.terminated is None:
            done = self.termination_logit(state.termination, state, next_obs) > 0.0  # σ(z) > ½
        else:
            done = self.terminated(next_obs)
        return reward, next_obs, done

    def rollout(self, state: MBPOState, start_obs: jax.Array, k: int) -> tuple[MBPOState, dict]:
        """k-step branched rollouts of π from real states into D_model; a rollout stops at its first terminal state."""

        def step(carry, key):
            obs, alive, buffer = carry
            k_act, k_model = jax.random.split(key)
            action, _ = self.sac.policy(state.sac.params["policy"], obs, k_act)
            reward, next_obs, done = self.predict(state, obs, action, k_model)
            buffer = _insert(buffer, (obs, action, reward, next_obs, done.astype(jnp.float32)), alive)
            return (next_obs, alive & ~done, buffer), jnp.mean(alive)

        key, sub = jax.random.split(state.key)
        alive = jnp.ones(start_obs.shape[0], bool)
        (_, _, buffer), alive_frac = jax.lax.scan(step, (start_obs, alive, state.buffer), jax.random.split(sub, k))
        return state.replace(buffer=buffer, key=key), {"rollout_alive": jnp.mean(alive_frac)}

    # ---------------------------------------------------------------------- SAC on mixed data
    def update_fn(self, state: MBPOState, real: Batch, window: jax.Array) -> tuple[MBPOState, dict]:
        """G SAC updates (sac.py's update_step), each on real_ratio real and the rest model transitions, the model
        part drawn uniformly from the newest `window` entries of D_model."""
        c = self.config
        n_model = c.batch_size - c.real_batch_size if c.real_ratio < 1 else 0

        def step(carry, real_batch):
            sac_state, key = carry
            key, sub = jax.random.split(key)
            fields = ("obs", "action", "reward", "next_obs", "terminated")
            batch = Batch(*(getattr(real_batch, f) for f in fields))
            if n_model:
                b = state.buffer
                back = jax.random.randint(sub, (n_model,), 0, jnp.maximum(jnp.minimum(b.size, window), 1))
                rows = (b.ptr - 1 - back) % self.buffer_capacity
                batch = Batch(*(jnp.concatenate([getattr(batch, f), getattr(b, f)[rows]]) for f in fields))
            sac_state, info = self.sac.update_step(sac_state, batch)
            return (sac_state, key), info

        key, sub = jax.random.split(state.key)
        (sac_state, _), info = jax.lax.scan(step, (state.sac, sub), real)
        state = state.replace(sac=sac_state, key=key)
        info = jax.tree.map(jnp.mean, info)
        return state, {**info, "finite": self.health(state, info)}

    def health(self, state: MBPOState, info: dict) -> jax.Array:
        sac = self.sac.health(state.sac, info)
        return jnp.concatenate([sac, all_finite(state.model, state.termination)[None]])

    # ------------------------------------------------------------------------ trainer interface
    def trains_model_at(self, env_step: int) -> bool:
        return env_step >= self.model_start and (env_step - self.model_start) % self.config.model_train_freq == 0

    def batches_per_step(self, env_step: int) -> int:
        return 0 if env_step < self.config.random_steps else self.config.updates_per_step

    def rounds_per_step(self, env_step: int) -> int:
        return self.batches_per_step(env_step)

    def sample(self, buffer, rng: np.random.Generator, env_step: int) -> dict:
        """The G real parts of this step's SAC batches; at a retraining step also D_env itself, for the model."""
        batches = {"real": buffer.sample(rng, self.config.updates_per_step, self.config.real_batch_size)}
        if self.trains_model_at(env_step) and self.config.real_ratio < 1:
            batches["data"] = Batch(buffer.obs, buffer.action, buffer.reward, buffer.next_obs, buffer.terminated)
            batches["size"] = len(buffer)
            batches["rng"] = rng
        return batches

    def update(self, state: MBPOState, batches: dict, env_step: int) -> tuple[MBPOState, dict]:
        extra: dict[str, float] = {}
        k = rollout_length(self.config, env_step)
        if "data" in batches:
            rng = batches["rng"]
            state, extra = self.train_model(state, batches["data"], batches["size"], rng)
            starts = batches["data"].obs[rng.integers(0, batches["size"], self.rollout_states)]
            state, rollout_info = self._rollout(state, jnp.asarray(starts), k=k)
            extra |= {key: float(v) for key, v in rollout_info.items()} | {"rollout_length": float(k)}
        state, info = self._update(state, batches["real"], jnp.int32(model_buffer_window(self.config, k)))
        return state, {**info, **extra}

    def model_error_fn(self, state: MBPOState, batch: Batch, valid: jax.Array) -> dict:
        """The elites' mean prediction against real transitions (the same measures as MEMB's, App. B.2), over the
        rows where `valid` is true."""
        x = self._inputs(state, batch.obs, batch.action)
        elites = select(state.model, state.elites)
        mean, _ = self.ensemble.apply(elites, jnp.broadcast_to(x, (self.config.num_elites, *x.shape)))
        mean = mean.mean(axis=0)
        return {
            "model_error_state": masked_mean(jnp.linalg.norm(batch.obs + mean[:, 1:] - batch.next_obs, axis=-1), valid),
            "model_error_reward": masked_mean(jnp.abs(mean[:, 0] - batch.reward), valid),
        }

    def model_error(self, state: MBPOState, batch: Batch) -> dict[str, float]:
        batch, valid = padded(batch)
        return {k: float(v) for k, v in self._model_error(state, batch, valid).items()}

    def scale_learning_rate(self, state: MBPOState, component: str, factor: float) -> MBPOState:
        if component == "model":
            return state.replace(model_opt=scale_learning_rate({"model": state.model_opt}, "model", factor)["model"])
        return state.replace(sac=self.sac.scale_learning_rate(state.sac, component, factor))

    def learning_rates(self, state: MBPOState) -> dict[str, float]:
        rates = self.sac.learning_rates(state.sac)
        return {**rates, "model": float(state.model_opt.hyperparams["learning_rate"])}


class MBPOSingle(MBPO):
    """The MEMB paper's fairness setting: MBPO "without the ensemble learning techniques", one model."""

    name = "mbpo-single"

    @dataclass(frozen=True)
    class Config(MBPOConfig):
        ensemble_size: int = 1
        num_elites: int = 1


def _insert(buffer: ModelBuffer, rows: tuple, valid: jax.Array) -> ModelBuffer:
    """Append the `valid` rows at the ring's head in their order; the slots of invalid rows keep their content."""
    n, cap = valid.shape[0], buffer.obs.shape[0]
    order = jnp.argsort(~valid, stable=True)  # the valid rows first
    count = jnp.sum(valid).astype(jnp.int32)
    slots = (buffer.ptr + jnp.arange(n)) % cap
    write = jnp.arange(n) < count
    fields = ("obs", "action", "reward", "next_obs", "terminated")
    new = {}
    for name, value in zip(fields, rows, strict=True):
        old = getattr(buffer, name)
        mask = write.reshape((n,) + (1,) * (value.ndim - 1))
        new[name] = old.at[slots].set(jnp.where(mask, value[order], old[slots]))
    return buffer.replace(**new, ptr=(buffer.ptr + count) % cap, size=jnp.minimum(buffer.size + count, cap))
