"""A probabilistic ensemble (Chua et al. 2018, as MBPO uses it): E Gaussian MLPs evaluated as one vmapped network.

Each member maps a normalized (s, a) to the mean and log-variance of (r, s' − s). The log-variance is squashed into
learned bounds [min_logvar, max_logvar] with softplus (PETS' appendix A.1), and the loss is the Gaussian NLL plus a
small pull of the bounds towards each other. Parameters carry a leading ensemble axis [E, ...]; a subset of members
(the elites) is `select(params, indices)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

# PETS' and MBPO's initial bounds on the log-variance, and the weight of the bound term in the loss
MAX_LOGVAR_INIT, MIN_LOGVAR_INIT, LOGVAR_BOUND_WEIGHT = 0.5, -10.0, 0.01


class GaussianMember(nn.Module):
    """One member: swish layers, then the mean and the softly bounded log-variance of `out_dim` outputs."""

    hidden: Sequence[int]
    out_dim: int

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        for width in self.hidden:
            x = nn.swish(nn.Dense(width)(x))
        mean, logvar = jnp.split(nn.Dense(2 * self.out_dim)(x), 2, axis=-1)
        max_logvar = self.param("max_logvar", nn.initializers.constant(MAX_LOGVAR_INIT), (self.out_dim,))
        min_logvar = self.param("min_logvar", nn.initializers.constant(MIN_LOGVAR_INIT), (self.out_dim,))
        logvar = max_logvar - nn.softplus(max_logvar - logvar)
        logvar = min_logvar + nn.softplus(logvar - min_logvar)
        return mean, logvar


class Ensemble:
    """E independent members, initialized and applied with `jax.vmap` over the leading axis of the parameters."""

    def __init__(self, hidden: Sequence[int], out_dim: int, size: int):
        self.member, self.size = GaussianMember(tuple(hidden), out_dim), size

    def init(self, key: jax.Array, in_dim: int):
        x = jnp.zeros((1, in_dim))
        return jax.vmap(lambda k: self.member.init(k, x))(jax.random.split(key, self.size))

    def apply(self, params, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """x: [E, B, in] (each member its own inputs) -> mean, logvar: [E, B, out]."""
        return jax.vmap(self.member.apply)(params, x)


def select(params, indices: jax.Array):
    """The members at `indices` (for example the elites), still stacked on the leading axis."""
    return jax.tree.map(lambda p: p[indices], params)


def gaussian_nll(mean: jax.Array, logvar: jax.Array, target: jax.Array) -> jax.Array:
    """Per member: mean over the batch and the outputs of (μ − y)² e^{−log σ²} + log σ² (the constant dropped)."""
    return jnp.mean((mean - target) ** 2 * jnp.exp(-logvar) + logvar, axis=(-2, -1))


def ensemble_loss(ensemble: Ensemble, params, x: jax.Array, y: jax.Array, weight_decay: float):
    """The training loss: Σ_members NLL + 0.01 (Σ max_logvar − Σ min_logvar) + weight_decay · ½ Σ ‖W‖² (kernels only).

    x: [E, B, in], y: [E, B, out]. Returns the loss and the per-member NLL.
    """
    mean, logvar = ensemble.apply(params, x)
    nll = gaussian_nll(mean, logvar, y)
    p = params["params"]
    bounds = jnp.sum(p["max_logvar"]) - jnp.sum(p["min_logvar"])
    kernels = [leaf for path, leaf in jax.tree_util.tree_leaves_with_path(p) if path[-1].key == "kernel"]
    decay = 0.5 * sum(jnp.sum(k**2) for k in kernels)
    return jnp.sum(nll) + LOGVAR_BOUND_WEIGHT * bounds + weight_decay * decay, nll
