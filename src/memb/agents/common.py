"""What every agent shares: the batch of real transitions and the Polyak update."""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax


@flax.struct.dataclass
class Batch:
    """Real transitions (s, a, r, s', d) from the replay buffer D; `terminated` is 1.0 only at true ends.

    `behavior_log_prob` is log μ(a|s) of the policy that took the action (for importance weights), when recorded.
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array
    behavior_log_prob: jax.Array | None = None


def all_finite(*trees: Any) -> jax.Array:
    """True when every floating-point leaf of every tree is finite (a cheap reduction inside jitted code)."""
    leaves = [x for t in trees for x in jax.tree.leaves(t)]
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def polyak_update(online: Any, target: Any, tau: float) -> Any:
    """target ← (1 − τ) target + τ online."""
    return jax.tree.map(lambda o, t: (1.0 - tau) * t + tau * o, online, target)


def wasserstein_1d(x: jax.Array, y: jax.Array, valid: jax.Array | None = None) -> jax.Array:
    """1-Wasserstein distance per column between two equal-size samples [n, d]: mean |sorted x − sorted y|.

    With `valid` [n] (the rows that count; the others are padding), the distance between the valid rows alone.
    """
    if valid is None:
        return jnp.mean(jnp.abs(jnp.sort(x, axis=0) - jnp.sort(y, axis=0)), axis=0)
    keep = valid[:, None]
    xs = jnp.sort(jnp.where(keep, x, jnp.inf), axis=0)  # the padding sorts last in both
    ys = jnp.sort(jnp.where(keep, y, jnp.inf), axis=0)
    count = jnp.sum(valid)
    first = (jnp.arange(x.shape[0]) < count)[:, None]
    return jnp.sum(jnp.where(first, jnp.abs(xs - ys), 0.0), axis=0) / count


def masked_mean(x: jax.Array, valid: jax.Array) -> jax.Array:
    """The mean of x [n] over its valid rows."""
    return jnp.sum(jnp.where(valid, x, 0.0)) / jnp.sum(valid)


def padded(batch: Batch) -> tuple[Batch, np.ndarray]:
    """`batch` with zero rows added up to the next power of two, and the mask of its real rows.

    A jitted function of the result compiles once per power of two instead of once per length. Evaluation
    episodes that end early (Hopper, Walker2d) give the held-out transitions a new length nearly every epoch, and
    every compile kept its executable: about 10 MiB of resident memory and a second or more each time.
    """
    n = len(batch.reward)
    size = 1 << max(0, (n - 1).bit_length())

    def pad(x):
        x = np.asarray(x)
        return np.concatenate([x, np.zeros((size - n, *x.shape[1:]), x.dtype)])

    return jax.tree.map(pad, batch), np.arange(size) < n


def adam(learning_rate: float):
    """Adam with its learning rate in the optimizer state, so that a divergence remedy can lower it."""
    return optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate)


def scale_learning_rate(opt_state: dict, component: str, factor: float) -> dict:
    """`opt_state` with `component`'s learning rate multiplied by `factor`."""
    opt = opt_state[component]
    hyper = {**opt.hyperparams, "learning_rate": opt.hyperparams["learning_rate"] * factor}
    return {**opt_state, component: opt._replace(hyperparams=hyper)}


def learning_rates(opt_state: dict, components: tuple[str, ...]) -> dict[str, float]:
    return {c: float(opt_state[c].hyperparams["learning_rate"]) for c in components}
