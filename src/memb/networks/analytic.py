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


# ---------------------------------------------------------------------------------------- termination
def never(next_obs: jax.Array) -> jax.Array:
    return jnp.zeros(next_obs.shape[:-1], bool)


def hopper(next_obs: jax.Array) -> jax.Array:
    """Hopper-v5 ends when unhealthy: z <= 0.7, |angle| >= 0.2, or |state[2:]| >= 100. The observation holds z,
    the angle and the rest of the state (velocities clipped to ±10 there, so their ±100 check can't fire)."""
    z, angle = next_obs[..., 0], next_obs[..., 1]
    healthy = (z > 0.7) & (jnp.abs(angle) < 0.2) & jnp.all(jnp.abs(next_obs[..., 1:]) < 100.0, axis=-1)
    return ~healthy


def walker2d(next_obs: jax.Array) -> jax.Array:
    """Walker2d-v5 ends when z leaves (0.8, 2.0) or the angle leaves (−1, 1)."""
    z, angle = next_obs[..., 0], next_obs[..., 1]
    return ~((z > 0.8) & (z < 2.0) & (angle > -1.0) & (angle < 1.0))


def inverted_pendulum(next_obs: jax.Array) -> jax.Array:
    """InvertedPendulum-v5 ends when the pole's angle exceeds 0.2 rad (or the state is not finite)."""
    return ~jnp.all(jnp.isfinite(next_obs), axis=-1) | (jnp.abs(next_obs[..., 1]) > 0.2)


# env id -> terminated(next_obs): the paper's seven tasks (MBPO's rollouts and MEMB's `termination` option use them)
TERMINATION_FUNCTIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "Pendulum-v1": never,
    "InvertedPendulum-v5": inverted_pendulum,
    "HalfCheetah-v5": never,
    "Hopper-v5": hopper,
    "Walker2d-v5": walker2d,
    "Swimmer-v5": never,
    "Reacher-v5": never,
}
