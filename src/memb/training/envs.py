"""Environments: make and check a Gymnasium env, and map the agent's [-1, 1] actions onto its bounds."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np


class EnvError(ValueError):
    """The environment cannot be used; the message is one line that says why and what to do."""


EnvSource = str | Callable[[], gym.Env] | gym.Env


def make_env(source: EnvSource, **kwargs) -> gym.Env:
    """An env from a registered id (also "module:Id", which imports the module that registers it),
    a factory, or an instance; checked with `check_env_spaces`."""
    if isinstance(source, gym.Env):
        env = source
    elif callable(source):
        env = source()
    else:
        try:
            env = gym.make(source, **kwargs)
        except gym.error.Error as e:
            raise EnvError(
                f"cannot make environment {source!r} ({type(e).__name__}); "
                "check the id with `python -c 'import gymnasium; gymnasium.pprint_registry()'`"
            ) from None
        except ModuleNotFoundError as e:
            raise EnvError(f"cannot make environment {source!r}: module {e.name!r} is not installed") from None
    check_env_spaces(env, _name(source, env))
    return env


def _name(source: EnvSource, env: gym.Env) -> str:
    if isinstance(source, str):
        return source
    return env.spec.id if env.spec is not None else type(env).__name__


def check_env_spaces(env: gym.Env, name: str) -> None:
    act, obs = env.action_space, env.observation_space
    if not isinstance(act, gym.spaces.Box):
        raise EnvError(f"{name} has a {type(act).__name__} action space; MEMB needs a continuous Box action space")
    if not (np.all(np.isfinite(act.low)) and np.all(np.isfinite(act.high))):
        raise EnvError(
            f"{name} has an unbounded action space; wrap it with gymnasium.wrappers.ClipAction "
            "or RescaleAction to give it finite bounds"
        )
    if not isinstance(obs, gym.spaces.Box) or len(obs.shape) != 1:
        raise EnvError(
            f"{name} has observation space {obs}; MEMB needs a flat Box, "
            "wrap it with gymnasium.wrappers.FlattenObservation"
        )


class ActionScaler:
    """Affine map between the agent's box [-1, 1]^d and the env's [low, high]."""

    def __init__(self, space: gym.spaces.Box):
        self.low = space.low.astype(np.float64)
        self.high = space.high.astype(np.float64)

    def to_env(self, action: np.ndarray) -> np.ndarray:
        action = np.clip(action, -1.0, 1.0)
        return (self.low + 0.5 * (action + 1.0) * (self.high - self.low)).astype(np.float32)
