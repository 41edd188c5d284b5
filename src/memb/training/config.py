"""The trainer's configuration, and the run's whole configuration (trainer + agent)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from memb import config as cfg
from memb.agents import AGENTS


@dataclass(frozen=True)
class TrainConfig:
    env: str = "Pendulum-v1"
    seed: int = 0
    steps: int = 10_000  # env steps in total, random and warm-up steps included
    epoch_length: int = 1_000  # env steps between evaluations
    eval_episodes: int = 10  # deterministic episodes per evaluation (the paper used 1)
    buffer_size: int = 1_000_000
    checkpoint_every: int = 10_000  # env steps between checkpoints (0: only at the end and on SIGINT/SIGTERM)
    keep_checkpoints: int = 2  # the newest complete checkpoints kept on disk
    on_divergence: Literal["restore", "stop"] = "restore"  # non-finite update: restore and halve that lr, or stop
    max_restores: int = 3  # divergence restores before the run stops
    stop_return: float | None = None  # stop early once an evaluation's mean return reaches this (None: never)
    trim_memory: bool = True  # hand malloc's free pages back to the system every epoch (glibc's malloc_trim)
    compile_ahead: bool = True  # compile what the loop needs later on background threads (training/ahead.py)

    def __post_init__(self) -> None:
        cfg.normalize(self)
        if not isinstance(self.env, str) or not self.env:
            raise cfg.ConfigError(f"env must be a Gymnasium id such as Pendulum-v1, got {self.env!r}")
        cfg.non_negative("seed", self.seed, integer=True)
        cfg.positive("steps", self.steps, integer=True)
        cfg.positive("epoch_length", self.epoch_length, integer=True)
        cfg.positive("eval_episodes", self.eval_episodes, integer=True)
        cfg.positive("buffer_size", self.buffer_size, integer=True)
        cfg.non_negative("checkpoint_every", self.checkpoint_every, integer=True)
        cfg.positive("keep_checkpoints", self.keep_checkpoints, integer=True)
        cfg.one_of("on_divergence", self.on_divergence, ("restore", "stop"))
        cfg.non_negative("max_restores", self.max_restores, integer=True)
        if self.stop_return is not None:
            cfg.in_range("stop_return", self.stop_return, -math.inf, math.inf)

    @property
    def buffer_capacity(self) -> int:
        """Transitions the replay buffer holds: buffer_size, or fewer when the run has fewer steps."""
        return min(self.buffer_size, self.steps)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; written to the run directory as config.json."""

    algo: str = "memb"
    train: TrainConfig = field(default_factory=TrainConfig)
    agent: Any = None  # the algorithm's own config dataclass

    def __post_init__(self) -> None:
        cfg.one_of("algo", self.algo, tuple(AGENTS))
        if not isinstance(self.train, TrainConfig):
            raise cfg.ConfigError(f"train must be a TrainConfig, got {type(self.train).__name__}")
        if self.agent is None:
            object.__setattr__(self, "agent", AGENTS[self.algo].Config())
        expected = AGENTS[self.algo].Config
        if not isinstance(self.agent, expected):
            raise cfg.ConfigError(
                f"agent is a {type(self.agent).__name__} but algo {self.algo!r} takes a {expected.__name__}; "
                "pass the algo that matches the agent's config"
            )
        batch = getattr(self.agent, "batch_size", None)
        if batch is not None and batch > self.train.buffer_size:
            raise cfg.ConfigError(
                f"batch_size {batch} is larger than buffer_size {self.train.buffer_size}: no batch could be sampled; "
                "lower batch_size or raise buffer_size"
            )

    def to_dict(self) -> dict[str, Any]:
        return {"algo": self.algo, "train": cfg.to_dict(self.train), "agent": cfg.to_dict(self.agent)}

    @staticmethod
    def upgrade_saved(values: dict[str, Any]) -> dict[str, Any]:
        """A run directory's config.json (without its "versions"), written by this or an earlier memb, as the run
        ran: an agent may upgrade what it saved before one of its defaults changed (`upgrade_saved_config`; DDPG's
        noise, loss scale and batch norms)."""
        agent_cls = AGENTS.get(values.get("algo", "memb"))
        if hasattr(agent_cls, "upgrade_saved_config") and isinstance(values.get("agent"), dict):
            values = {**values, "agent": agent_cls.upgrade_saved_config(values["agent"])}
        return values

    @classmethod
    def from_saved(cls, values: dict[str, Any]) -> RunConfig:
        """A run directory's config.json (without its "versions"), read as the run ran (`upgrade_saved`)."""
        return cls.from_dict(cls.upgrade_saved(values))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        algo = values.get("algo", "memb")
        cfg.one_of("algo", algo, tuple(AGENTS))
        unknown = sorted(set(values) - {"algo", "train", "agent"})
        if unknown:
            raise cfg.ConfigError(f"unknown config section {unknown[0]!r}; sections are algo, train, agent")
        return cls(
            algo=algo,
            train=cfg.from_dict(TrainConfig, values.get("train", {}), where="train"),
            agent=cfg.from_dict(AGENTS[algo].Config, values.get("agent", {}), where="agent"),
        )
