"""True models: differentiable JAX versions of an environment's dynamics and reward (App. B.3).

Each entry of ANALYTIC_MODELS maps a name to a function (obs, action) -> (next_obs, reward) over batches, where the
action is the agent's normalized action in [-1, 1]^d. MEMB uses one in place of its learned models in the policy
step (`--true-model NAME`). To add a task, write its step function in the same form and register it here.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

TrueModel = Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]


def pendulum(obs: jax.Array, action: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Gymnasium's Pendulum-v1 (g = 10, m = l = 1, dt = 0.05, |u| <= 2, |θ̇| <= 8) on observations (cos θ, sin θ, θ̇).

    θ is recovered as atan2(sin θ, cos θ), which is already the normalized angle of the cost.
    """
    g, m, length, dt, max_speed, max_torque = 10.0, 1.0, 1.0, 0.05, 8.0, 2.0
    cos_th, sin_th, thdot = obs[..., 0], obs[..., 1], obs[..., 2]
    th = jnp.arctan2(sin_th, cos_th)
    u = jnp.clip(action[..., 0] * max_torque, -max_torque, max_torque)  # [-1, 1] -> [-2, 2]
    cost = th**2 + 0.1 * thdot**2 + 0.001 * u**2
    new_thdot = thdot + (3 * g / (2 * length) * jnp.sin(th) + 3.0 / (m * length**2) * u) * dt
    new_thdot = jnp.clip(new_thdot, -max_speed, max_speed)
    new_th = th + new_thdot * dt
    return jnp.stack([jnp.cos(new_th), jnp.sin(new_th), new_thdot], axis=-1), -cost


ANALYTIC_MODELS: dict[str, TrueModel] = {"pendulum": pendulum}
