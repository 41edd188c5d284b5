"""Agents: pure update functions over state pytrees. An agent module uses networks/, nothing above it.

An agent class exposes `Config` (with `batch_size` and `random_steps`), `components`, `init(key)`,
`act(state, obs, key, deterministic)`, `batches_per_step(step)`, `rounds_per_step(step)`, `update(state, batches, step)`
(whose info holds a `finite` vector over `components`), `model_error(state, batch)`, `scale_learning_rate`,
`learning_rates` and `uses_behavior_log_prob`; the trainer needs nothing else. A new agent is one module here.
`act` must be pure: the trainer calls it on stand-in data on a background thread to compile it ahead. Optional:
`update_programs()`, the jitted programs `update` runs and from which env step (and, optionally, from which step to
start compiling one), for the trainer to compile ahead.
"""

from memb.agents.common import Batch, polyak_update
from memb.agents.mbpo import MBPO, MBPOConfig, MBPOSingle
from memb.agents.memb import MEMB, SVG, MEMBConfig, MEMBState, SVGConfig
from memb.agents.sac import SAC, SACConfig
from memb.agents.td3 import DDPG, TD3, DDPGConfig, TD3Config

AGENTS = {"memb": MEMB, "sac": SAC, "td3": TD3, "ddpg": DDPG, "svg": SVG, "mbpo": MBPO, "mbpo-single": MBPOSingle}

__all__ = [
    "AGENTS",
    "DDPG",
    "MBPO",
    "MEMB",
    "MBPOConfig",
    "MBPOSingle",
    "SAC",
    "SVG",
    "TD3",
    "Batch",
    "DDPGConfig",
    "MEMBConfig",
    "MEMBState",
    "SACConfig",
    "SVGConfig",
    "TD3Config",
    "polyak_update",
]
