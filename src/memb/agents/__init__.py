"""Agents: pure update functions over state pytrees. An agent module uses networks/, nothing above it.

An agent class exposes `Config`, `init(key)`, `act(state, obs, key, deterministic)`, `batches_per_step(step)`,
`update(state, batches, step)` and `model_error(state, batch)`; the trainer needs nothing else.
"""

from memb.agents.common import Batch, polyak_update
from memb.agents.memb import MEMB, MEMBConfig, MEMBState

AGENTS = {"memb": MEMB}

__all__ = ["AGENTS", "MEMB", "MEMBConfig", "MEMBState", "Batch", "polyak_update"]
