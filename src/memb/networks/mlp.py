"""MLPs with the heads MEMB needs: Gaussian models, a tanh-Gaussian policy, twin Q and V."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from memb.networks.distributions import bounded_log_std

# The MEMB authors bound every log-std with a tanh layer mapped onto [-20, 2] ("tanh"). SAC's own code (haarnoja/sac)
# clips the head's output instead, and Stable-Baselines3 clamps it to the same range ("clip"). The two differ most
# at initialization: a head output near 0 is log-std -9 (std 1e-4) under "tanh" and log-std 0 (std 1) under "clip".
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
LOG_STD_BOUNDS = ("tanh", "clip")


class MLP(nn.Module):
    """Dense ReLU layers of the given widths, then a linear layer of `out_dim` units."""

    hidden: Sequence[int]
    out_dim: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(self.out_dim)(x)


class GaussianMLP(nn.Module):
    """A trunk with a mean head and a bounded log-std head (the models of eq. 4, the policy)."""

    hidden: Sequence[int]
    out_dim: int
    log_std_min: float = LOG_STD_MIN
    log_std_max: float = LOG_STD_MAX
    log_std_bound: str = "tanh"  # one of LOG_STD_BOUNDS

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        mean = nn.Dense(self.out_dim)(x)
        raw = nn.Dense(self.out_dim)(x)
        if self.log_std_bound == "clip":
            log_std = jnp.clip(raw, self.log_std_min, self.log_std_max)
        else:
            log_std = bounded_log_std(raw, self.log_std_min, self.log_std_max)
        return mean, log_std


class TanhGaussianPolicy(GaussianMLP):
    """π(a|s): the Gaussian of the pre-squash action; sample with `tanh_gaussian_sample`."""


class ValueFunction(nn.Module):
    """V_ψ(s) (eq. 5)."""

    hidden: Sequence[int]

    @nn.compact
    def __call__(self, s: jax.Array) -> jax.Array:
        return MLP(self.hidden, 1)(s)[..., 0]


class _Q(nn.Module):
    hidden: Sequence[int]
    action_layer: int = 0  # the hidden layer whose input the action joins (DDPG: 1, the second)
    final_init: float = 0.0  # > 0: the output layer's weights and bias drawn from U(±final_init) (DDPG: 3e-3)
    batch_norm: bool = False  # batch-normalize the state input and the layers before the action (DDPG 2015, §7)
    train: bool = False  # batch statistics (and new running averages) instead of the running averages

    @nn.compact
    def __call__(self, s: jax.Array, a: jax.Array) -> jax.Array:
        train = self.train
        if self.action_layer == 0 and self.final_init == 0 and not self.batch_norm:
            return MLP(self.hidden, 1)(jnp.concatenate([s, a], axis=-1))[..., 0]

        def norm(x):
            return nn.BatchNorm(use_running_average=not train)(x) if self.batch_norm else x

        x = norm(s) if self.action_layer > 0 else s
        for i, width in enumerate(self.hidden):
            if i == self.action_layer:
                x = jnp.concatenate([x, a], axis=-1)
            x = nn.Dense(width)(x)
            x = nn.relu(norm(x) if i < self.action_layer else x)
        return final_dense(1, self.final_init)(x)[..., 0]


def final_dense(features: int, bound: float) -> nn.Dense:
    if bound == 0:
        return nn.Dense(features)
    init = nn.initializers.uniform(2 * bound)  # U(0, 2b), shifted below to U(-b, b)
    return nn.Dense(
        features,
        kernel_init=lambda k, shape, dtype=jnp.float32: init(k, shape, dtype) - bound,
        bias_init=lambda k, shape, dtype=jnp.float32: init(k, shape, dtype) - bound,
    )


class QEnsemble(nn.Module):
    """`num` independent Q_φ(s, a) networks evaluated as one batched network (output: [num, ...]).

    With `batch_norm` (DDPG's critic), `train=True` normalizes with the batch's statistics and, applied with
    `mutable=["batch_stats"]`, returns the moved running averages; `train=False` uses the running averages."""

    hidden: Sequence[int]
    num: int = 2
    action_layer: int = 0
    final_init: float = 0.0
    batch_norm: bool = False

    @nn.compact
    def __call__(self, s: jax.Array, a: jax.Array, train: bool = False) -> jax.Array:
        ensemble = nn.vmap(
            _Q,
            variable_axes={"params": 0, "batch_stats": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.num,
        )
        return ensemble(self.hidden, self.action_layer, self.final_init, self.batch_norm, train)(s, a)
