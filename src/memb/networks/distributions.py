"""Gaussian and tanh-squashed Gaussian distributions as pure functions.

The policy acts in the normalized action box [-1, 1]^d; the trainer maps that box onto the
environment's bounds. Densities here are therefore densities of the normalized action.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

LOG_2PI = float(jnp.log(2.0 * jnp.pi))


def bounded_log_std(raw: jax.Array, low: float, high: float) -> jax.Array:
    """Map an unbounded head output onto [low, high] through tanh (the authors' bounding)."""
    return low + 0.5 * (high - low) * (jnp.tanh(raw) + 1.0)


def gaussian_log_prob(x: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """log N(x; mean, diag(exp(log_std))^2), summed over the last axis."""
    z = (x - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * LOG_2PI, axis=-1)


def log_one_minus_tanh_sq(u: jax.Array) -> jax.Array:
    """log(1 - tanh(u)^2), computed stably as 2 (log 2 - u - softplus(-2u))."""
    return 2.0 * (jnp.log(2.0) - u - jax.nn.softplus(-2.0 * u))


def tanh_gaussian_log_prob(u: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """log π(a|s) of a = tanh(u), u ~ N(mean, std): change of variables by tanh.

    Takes the pre-squash sample u (not a) so that saturated actions keep an exact density.
    """
    return gaussian_log_prob(u, mean, log_std) - jnp.sum(log_one_minus_tanh_sq(u), axis=-1)


def tanh_gaussian_sample(key: jax.Array, mean: jax.Array, log_std: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Reparameterized sample a = κ(s, η) = tanh(mean + std η), η ~ N(0, I); returns (a, log π(a|s))."""
    eta = jax.random.normal(key, mean.shape, mean.dtype)
    u = mean + jnp.exp(log_std) * eta
    return jnp.tanh(u), tanh_gaussian_log_prob(u, mean, log_std)
