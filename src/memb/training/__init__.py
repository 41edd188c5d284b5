"""The training loop, shared by every agent: env loop, replay buffer, evaluation, run directory."""

from memb.training.buffer import ReplayBuffer
from memb.training.config import RunConfig, TrainConfig
from memb.training.envs import ActionScaler, EnvError, make_env
from memb.training.evaluation import EvalResult, evaluate
from memb.training.trainer import RunDirError, TrainResult, build_agent, load_state, train

__all__ = [
    "ActionScaler",
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
    "make_env",
    "train",
]
