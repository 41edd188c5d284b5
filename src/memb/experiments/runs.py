"""Resolving a run's configuration: defaults, then the paper's preset, then a config file, then flags."""

from __future__ import annotations

import dataclasses
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from memb import config as cfg
from memb.agents import AGENTS
from memb.experiments.presets import paper_preset
from memb.training import RunConfig, TrainConfig


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML or JSON file, either flat (`batch_size = 256`) or in [train] / [agent] sections."""
    path = Path(path)
    if not path.is_file():
        raise cfg.ConfigError(f"config file {path} does not exist; pass the path of a .toml or .json file")
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text())
        else:
            data = tomllib.loads(path.read_text())
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise cfg.ConfigError(f"cannot parse {path}: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise cfg.ConfigError(f"{path} must hold a table of settings")
    if data.pop("versions", None) is not None:  # a run's own config.json, passed back in: read as resume reads it
        data = RunConfig.upgrade_saved(data)
    return data


def resolve(
    overrides: dict[str, Any],
    *,
    algo: str = "memb",
    preset: str = "paper",
    config_file: str | Path | None = None,
) -> tuple[RunConfig, list[str]]:
    """The run configuration, and notes on where its values came from.

    `overrides` are flat field -> value pairs (strings from the command line are coerced); "steps": "paper"
    takes the paper's budget for the env.
    """
    cfg.one_of("algo", algo, tuple(AGENTS))
    cfg.one_of("preset", preset, ("paper", "none"))
    agent_cls = AGENTS[algo].Config
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    agent_fields = {f.name for f in dataclasses.fields(agent_cls)}
    train: dict[str, Any] = {}
    agent: dict[str, Any] = {}
    notes: list[str] = []

    def put(key: str, value: Any, where: str) -> None:
        if key in train_fields:
            train[key] = cfg.coerce(TrainConfig, key, value)
        elif key in agent_fields:
            agent[key] = cfg.coerce(agent_cls, key, value)
        else:
            known = ", ".join(sorted(train_fields | agent_fields))
            raise cfg.ConfigError(f"unknown config key {key!r} in {where}; known keys: {known}")

    file_values: dict[str, Any] = {}
    if config_file is not None:
        data = read_config_file(config_file)
        if data.get("algo", algo) != algo:
            raise cfg.ConfigError(f"{config_file} is for algo {data['algo']!r}; pass --algo {data['algo']}")
        data.pop("algo", None)
        for key, value in data.items():
            if isinstance(value, dict) and key in ("train", "agent"):
                file_values.update(value)
            else:
                file_values[key] = value

    env = overrides.get("env", file_values.get("env", TrainConfig.env))
    steps_value = overrides.get("steps", file_values.get("steps"))
    found = paper_preset(env) if preset == "paper" and algo == "memb" else None
    if found is not None:
        for key, value in {**found.train, **found.agent}.items():
            put(key, value, "preset")
        notes.append(f"the paper's settings for {env} (--preset none to drop them)")
    # a baseline's own per-task settings live in its module (MBPO's TASK_PRESETS)
    own = sys.modules[AGENTS[algo].__module__].__dict__.get("TASK_PRESETS", {}).get(env) if preset == "paper" else None
    if own is not None and algo != "memb":
        for key, value in own.items():
            put(key, value, "preset")
        notes.append(f"{algo}'s own settings for {env} (--preset none to drop them)")
    if steps_value == "paper":
        if paper_preset(env) is None:
            raise cfg.ConfigError(f"the paper has no budget for {env}; pass --steps N")
        overrides = {**overrides, "steps": paper_preset(env).budget}
        file_values.pop("steps", None)
    for key, value in file_values.items():
        put(key, value, str(config_file))
    for key, value in overrides.items():
        put(key, value, "the command line")
    run = RunConfig(algo=algo, train=TrainConfig(**train), agent=agent_cls(**agent))
    return run, notes
