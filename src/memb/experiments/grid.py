"""An experiment: a grid of algorithms x configurations x tasks x seeds, expanded into resolved runs.

A grid comes from a TOML/JSON file, from flags, or both (flags win):

    envs = ["Pendulum-v1", "InvertedPendulum-v5"]
    seeds = "0-4"                 # or [0, 1, 2]
    algos = ["memb"]
    steps = "paper"               # any config field at the top level applies to every run
    [grid]                        # the cartesian product of these values, one configuration each
    rollout_length = [1, 2, 3]
    [configs.no-entropy]          # named configurations, each a set of overrides
    alpha = 0.0

Every run lands in OUT/LABEL/ENV-sSEED, where LABEL names the configuration (the algo when there is only one
configuration), so that `memb plot OUT` draws one curve per configuration and `memb report OUT` one row.
"""

from __future__ import annotations

import itertools
import json
import numbers
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memb import config as cfg
from memb.experiments.presets import paper_preset
from memb.experiments.runs import resolve
from memb.training import RunConfig

AXES = ("envs", "seeds", "algos", "preset", "budget", "grid", "configs")


def parse_seeds(value: Any) -> tuple[int, ...]:
    """'0-4' -> 0..4, '0,2,5' -> (0, 2, 5), 3 -> (3,), [0, 1] -> (0, 1)."""
    if isinstance(value, bool):
        raise cfg.ConfigError(f"seeds must be a range such as 0-4 or a list such as 0,2,5, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise cfg.ConfigError(f"seeds must be >= 0, got {value}; pass a range such as 0-4")
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(s for v in value for s in parse_seeds(v))
    text = str(value).strip()
    seeds: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if m is None or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise cfg.ConfigError(f"seeds must be a range such as 0-4 or a list such as 0,2,5, got {value!r}")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        seeds += range(lo, hi + 1)
    if not seeds:
        raise cfg.ConfigError("seeds is empty; pass a range such as 0-4")
    if len(set(seeds)) != len(seeds):
        raise cfg.ConfigError(f"seeds {value!r} repeats a seed")
    return tuple(seeds)


def _names(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, (str, list, tuple)):
        raise cfg.ConfigError(f"{key} must be a name, a comma-separated string or a list of names, got {value!r}")
    items = value.split(",") if isinstance(value, str) else list(value)
    items = [str(v).strip() for v in items if str(v).strip()]
    if not items:
        raise cfg.ConfigError(f"{key} is empty")
    if len(set(items)) != len(items):
        raise cfg.ConfigError(f"{key} repeats a value: {value!r}")
    return tuple(items)


@dataclass(frozen=True)
class Experiment:
    """The axes of a grid. `common` applies to every run; `configs` and `grid` make the configurations."""

    envs: tuple[str, ...] = ("Pendulum-v1",)
    seeds: tuple[int, ...] = (0,)
    algos: tuple[str, ...] = ("memb",)
    preset: str = "paper"
    budget: float = 1.0  # with steps = "paper": this fraction of each env's paper budget
    common: dict[str, Any] = field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    grid: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Validate the axes as they are, whether from `from_values` or built directly (lists become tuples)."""
        for key, example in (("envs", "('Pendulum-v1',)"), ("algos", "('memb', 'sac')")):
            names = getattr(self, key)
            names = tuple(names) if isinstance(names, list) else names
            if not isinstance(names, tuple) or not names or not all(isinstance(n, str) and n for n in names):
                raise cfg.ConfigError(f"{key} must be a non-empty tuple of names such as {example}; got {names!r}")
            if len(set(names)) != len(names):
                raise cfg.ConfigError(f"{key} repeats a value: {names!r}")
            object.__setattr__(self, key, names)
        seeds = self.seeds
        integers = isinstance(seeds, (list, tuple, range)) and all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in seeds
        )
        seeds = tuple(int(s) for s in seeds) if integers else ()  # NumPy integers too, as TrainConfig takes them
        if not seeds or min(seeds) < 0:
            raise cfg.ConfigError(f"seeds must be integers >= 0 such as (0, 1, 2) or range(5); got {self.seeds!r}")
        if len(set(seeds)) != len(seeds):
            raise cfg.ConfigError(f"seeds repeats a seed: {seeds!r}")
        object.__setattr__(self, "seeds", seeds)
        cfg.one_of("preset", self.preset, ("paper", "none"))
        cfg.in_range("budget", self.budget, 0.0, 1.0, closed_high=True)
        if self.budget == 0:
            raise cfg.ConfigError("budget must be > 0 (a fraction of the paper's steps)")
        for name in ("common", "configs", "grid"):
            if not isinstance(getattr(self, name), dict):
                raise cfg.ConfigError(f"[{name}] must be a table (a dict); got {getattr(self, name)!r}")
        for name, overrides in self.configs.items():
            if not isinstance(overrides, dict):
                raise cfg.ConfigError(f"[configs.{name}] must be a table of settings; got {overrides!r}")
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.,=+-]+", name) or name in (".", ".."):
                raise cfg.ConfigError(
                    f"configuration name {name!r} must be made of letters, digits and _.,=+- and not be . or .."
                )
        grid = {}
        for key, vals in self.grid.items():
            if not isinstance(vals, (list, tuple)) or not vals:
                raise cfg.ConfigError(f"grid axis {key} must be a non-empty list of values; got {vals!r}")
            grid[key] = tuple(vals)
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "configs", {name: dict(table) for name, table in self.configs.items()})
        tables = [("the common settings", self.common), ("[grid]", self.grid)]
        tables += [(f"[configs.{n}]", t) for n, t in self.configs.items()]
        for where, table in tables:
            clash = sorted(set(table) & {"env", "seed", "algo", "envs", "seeds", "algos"})  # the axes
            if clash:
                raise cfg.ConfigError(f"{where} can't set {clash[0]}; give envs, seeds and algos at the top level")

    def to_dict(self) -> dict[str, Any]:
        return {
            "envs": list(self.envs),
            "seeds": list(self.seeds),
            "algos": list(self.algos),
            "preset": self.preset,
            "budget": self.budget,
            "common": self.common,
            "configs": self.configs,
            "grid": {k: list(v) for k, v in self.grid.items()},
        }

    @classmethod
    def from_values(cls, values: dict[str, Any], where: str = "the experiment") -> Experiment:
        """From a file's table or flags; top-level keys that are not axes are common overrides."""
        values = dict(values)
        kwargs: dict[str, Any] = {}
        for singular, plural in (("env", "envs"), ("seed", "seeds"), ("algo", "algos")):
            if singular in values:
                if plural in values:
                    raise cfg.ConfigError(f"{where} gives both {singular} and {plural}; keep one")
                values[plural] = values.pop(singular)
        if "envs" in values:
            kwargs["envs"] = _names("envs", values.pop("envs"))
        if "seeds" in values:
            kwargs["seeds"] = parse_seeds(values.pop("seeds"))
        if "algos" in values:
            kwargs["algos"] = _names("algos", values.pop("algos"))
        if "preset" in values:
            kwargs["preset"] = str(values.pop("preset"))
        if "budget" in values:
            kwargs["budget"] = cfg.coerce(cls, "budget", values.pop("budget"))
        kwargs["configs"] = values.pop("configs", {})
        kwargs["grid"] = values.pop("grid", {})
        kwargs["common"] = values
        try:
            return cls(**kwargs)
        except cfg.ConfigError as e:
            raise cfg.ConfigError(f"{where}: {e}") from None


def read_experiment_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise cfg.ConfigError(f"experiment file {path} does not exist; pass the path of a .toml or .json file")
    try:
        data = json.loads(path.read_text()) if path.suffix == ".json" else tomllib.loads(path.read_text())
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise cfg.ConfigError(f"cannot parse {path}: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise cfg.ConfigError(f"{path} must hold a table of settings")
    return data


@dataclass(frozen=True)
class Run:
    """One cell of the grid: its label, its resolved config and its directory relative to the experiment."""

    label: str
    config: RunConfig

    @property
    def env(self) -> str:
        return self.config.train.env

    @property
    def seed(self) -> int:
        return self.config.train.seed

    @property
    def name(self) -> str:
        return f"{self.label}/{self.env.replace(':', '_').replace('/', '_')}-s{self.seed}"


def _value_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(map(str, value))
    return str(value)


def variants(experiment: Experiment) -> list[tuple[str, dict[str, Any]]]:
    """(name, overrides) for each configuration: the named ones, times the grid's cartesian product."""
    named = list(experiment.configs.items()) or [("", {})]
    keys = list(experiment.grid)
    products = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*experiment.grid.values())] or [{}]
    out = []
    for (name, overrides), point in itertools.product(named, products):
        grid_name = ",".join(f"{k}={_value_text(v)}" for k, v in point.items())
        out.append(("-".join(filter(None, (name, grid_name))), {**overrides, **point}))
    return out


def expand(experiment: Experiment) -> list[Run]:
    """Every run of the grid, resolved and validated (the first bad value raises a one-line ConfigError)."""
    runs: list[Run] = []
    for algo in experiment.algos:
        for variant, overrides in variants(experiment):
            if variant and len(experiment.algos) > 1:
                label = f"{algo}-{variant}"
            else:
                label = variant or algo
            for env in experiment.envs:
                for seed in experiment.seeds:
                    values = {**experiment.common, **overrides, "env": env, "seed": seed}
                    if experiment.budget != 1.0:
                        if values.get("steps") != "paper" or paper_preset(env) is None:
                            raise cfg.ConfigError(
                                f"budget is a fraction of the paper's steps: it needs steps = 'paper' and one of "
                                f"the paper's tasks (got steps {values.get('steps')!r} for {env})"
                            )
                        values["steps"] = max(1, round(experiment.budget * paper_preset(env).budget))
                    try:
                        config, _ = resolve(values, algo=algo, preset=experiment.preset)
                    except cfg.ConfigError as e:
                        where = f" (configuration {variant!r})" if variant else ""
                        raise cfg.ConfigError(f"{algo} on {env}{where}: {e}") from None
                    runs.append(Run(label, config))
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise cfg.ConfigError("two runs of the grid share a directory; give the configurations distinct names")
    return runs
