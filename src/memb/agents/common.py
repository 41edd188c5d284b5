"""What every agent shares: the batch of real transitions and the Polyak update."""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class Batch:
    """Real transitions (s, a, r, s', d) from the replay buffer D; `terminated` is 1.0 only at true ends."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array


def all_finite(*trees: Any) -> jax.Array:
    """True when every floating-point leaf of every tree is finite (a cheap reduction inside jitted code)."""
    leaves = [x for t in trees for x in jax.tree.leaves(t)]
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def polyak_update(online: Any, target: Any, tau: float) -> Any:
    """target ← (1 − τ) target + τ online."""
    return jax.tree.map(lambda o, t: (1.0 - tau) * t + tau * o, online, target)
