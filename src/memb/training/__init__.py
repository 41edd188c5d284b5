"""The training loop, shared by every agent: env loop, replay buffer, evaluation, run directory."""

from memb.training.buffer import ReplayBuffer
from memb.training.compilation_cache import use_compilation_cache
from memb.training.config import RunConfig, TrainConfig
from memb.training.envs import ActionScaler, EnvError, make_env
from memb.training.evaluation import EvalResult, evaluate
from memb.training.trainer import (
    DivergenceError,
    Interrupted,
    RunDirError,
    TrainResult,
    build_agent,
    load_state,
    read_run_config,
    train,
)

__all__ = [
    "ActionScaler",
    "DivergenceError",
    "Interrupted",
    "EnvError",
    "EvalResult",
    "ReplayBuffer",
    "RunConfig",
    "RunDirError",
    "TrainConfig",
    "TrainResult",
    "build_agent",
    "evaluate",
    "load_state",
    "read_run_config",
    "make_env",
    "train",
    "use_compilation_cache",
]
