"""Environments: make and check a Gymnasium env, and map the agent's [-1, 1] actions onto its bounds."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import gymnasium as gym
import numpy as np


class EnvError(ValueError):
    """The environment cannot be used; the message is one line that says why and what to do."""


EnvSource = str | Callable[[], gym.Env] | gym.Env
EVAL_STEP_CAP = 10_000  # an evaluation episode of an env without a TimeLimit is cut here (make_env warns of it)


def make_env(source: EnvSource, **kwargs) -> gym.Env:
    """An env from a registered id (also "module:Id", which imports the module that registers it),
    a factory, or an instance; checked with `check_env_spaces`."""
    _mujoco_warnings_once()
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
            what = f"module {e.name!r} is not installed" if e.name else str(e)
            raise EnvError(f"cannot make environment {source!r}: {what}") from None
    check_env_spaces(env, _name(source, env))
    if not has_time_limit(env) and _name(source, env) not in _warned_no_limit:
        _warned_no_limit.add(_name(source, env))
        print(
            f"memb: warning: {_name(source, env)} has no time limit, so evaluation cuts its episodes at "
            f"{EVAL_STEP_CAP} steps; "
            "register it with max_episode_steps or wrap it with gymnasium.wrappers.TimeLimit to choose",
            file=sys.stderr,
        )
    return env


_warned_no_limit: set[str] = set()


def has_time_limit(env: gym.Env) -> bool:
    """Whether a TimeLimit wrapper ends `env`'s episodes (a registered id with max_episode_steps has one)."""
    return _time_limit(env) is not None


_shown_mujoco_warnings: set[str] = set()


def _mujoco_warnings_once() -> None:
    """MuJoCo prints its model compiler's warnings at every model load: HalfCheetah-v5's XML has an attribute that
    MuJoCo 4 deprecates, so a run (its train env and ten evaluation envs) printed the same line eleven times. Show
    each distinct MuJoCo warning once per process instead, on stderr. A handler the user set is left alone."""
    try:
        import mujoco
    except ImportError:
        return
    if mujoco.get_mju_user_warning() is not None:
        return

    def once(message: str) -> None:
        if message not in _shown_mujoco_warnings:
            _shown_mujoco_warnings.add(message)
            print(f"MuJoCo warning: {message}", file=sys.stderr)

    mujoco.set_mju_user_warning(once)


def _name(source: EnvSource, env: gym.Env) -> str:
    if isinstance(source, str):
        return source
    return env.spec.id if env.spec is not None else type(env).__name__


def check_env_label(label: str, source: EnvSource, env: gym.Env) -> None:
    """With an env factory, a config's `train.env` is only a label; a registered id there that is not the made env's
    would have given the run that task's preset and recorded the wrong env in its config.json."""
    if isinstance(source, str) or label not in gym.registry:
        return
    # a wrapper's spec is a deep copy that is None when a wrapper's argument can't be copied; gym.make's own is kept
    specs = [getattr(e, "spec", None) for e in (env, env.unwrapped)]
    made = next((s.id for s in specs if s is not None), None)
    if made != label:
        raise EnvError(
            f"the config is for {label} (its train.env) but the env factory makes "
            f"{made or type(env.unwrapped).__name__}; for a new run resolve the config with a name of your own "
            "(memb.experiments.runs.resolve({'env': 'my-env'})), for a run made so rename env in its config.json, "
            f"or make the env in the factory with gymnasium.make({label!r})"
        )


def check_env_spaces(env: gym.Env, name: str) -> None:
    act, obs = env.action_space, env.observation_space
    if not isinstance(act, gym.spaces.Box):
        raise EnvError(f"{name} has a {type(act).__name__} action space; MEMB needs a continuous Box action space")
    if len(act.shape) != 1 or not np.issubdtype(act.dtype, np.floating):
        raise EnvError(
            f"{name} has action space {act}; MEMB needs a 1-D floating-point Box: wrap the env with "
            "gymnasium.wrappers.TransformAction to map a flat float Box onto it"
        )
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
        self.dtype = space.dtype  # in the space's own precision: float32 rounding could step outside a float64 box

    def to_env(self, action: np.ndarray) -> np.ndarray:
        action = np.clip(action, -1.0, 1.0)
        return (self.low + 0.5 * (action + 1.0) * (self.high - self.low)).astype(self.dtype)


# ---------------------------------------------------------------------------------------- env state
_CLASSIC_ATTRS = ("state", "last_u", "steps_beyond_terminated")


def _time_limit(env: gym.Env):
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            return env
        env = env.env
    return None


def _to_json(value):
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _from_json(value):
    if isinstance(value, dict) and "ndarray" in value:
        return np.asarray(value["ndarray"], dtype=value["dtype"])
    return value


def get_env_state(env: gym.Env) -> dict | None:
    """Everything needed to continue `env` exactly where it is (JSON-able), or None where it can't be captured.

    Captured: MuJoCo tasks (the full integration state, mjSTATE_INTEGRATION), classic-control style envs that keep
    their state in a `state` attribute; for both, the env's RNG and the TimeLimit counter.
    """
    u = env.unwrapped
    captured: dict = {"np_random": u.np_random.bit_generator.state}
    limit = _time_limit(env)
    captured["elapsed_steps"] = None if limit is None else limit._elapsed_steps
    try:
        from gymnasium.envs.mujoco import MujocoEnv
    except ImportError:  # gymnasium without its MuJoCo extra
        MujocoEnv = ()
    if isinstance(u, MujocoEnv):
        import mujoco

        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        physics = np.empty(mujoco.mj_stateSize(u.model, spec))
        mujoco.mj_getState(u.model, u.data, physics, spec)
        captured["mujoco"] = physics.tolist()
        return captured
    if hasattr(u, "state"):
        captured["attrs"] = {name: _to_json(getattr(u, name)) for name in _CLASSIC_ATTRS if hasattr(u, name)}
        try:
            json.dumps(captured["attrs"])
        except (TypeError, ValueError):  # a user env's `state` that JSON can't hold (a method, an object)
            return None
        return captured
    return None


def set_env_state(env: gym.Env, captured: dict) -> None:
    """Restore what `get_env_state` captured into an env of the same kind that has been reset once."""
    u = env.unwrapped
    u.np_random.bit_generator.state = captured["np_random"]
    limit = _time_limit(env)
    if limit is not None:
        limit._elapsed_steps = captured["elapsed_steps"]
    if "mujoco" in captured:
        import mujoco

        mujoco.mj_setState(u.model, u.data, np.asarray(captured["mujoco"]), mujoco.mjtState.mjSTATE_INTEGRATION)
    for name, value in captured.get("attrs", {}).items():
        setattr(u, name, _from_json(value))
