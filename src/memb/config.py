"""Typed configuration: dataclass helpers shared by agents, the trainer and the CLI.

Every config is a frozen dataclass whose `__post_init__` validates its fields with the helpers here, so a
bad value fails where it is made, with one line that names the field, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import types
import typing
from typing import Any


class ConfigError(ValueError):
    """A configuration value is wrong; the message is one line that says how to fix it."""


def positive(name: str, value: float, *, integer: bool = False) -> None:
    _number(name, value, integer)
    if not value > 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}; pass a positive value")


def non_negative(name: str, value: float, *, integer: bool = False) -> None:
    _number(name, value, integer)
    if not value >= 0:
        raise ConfigError(f"{name} must be >= 0, got {value!r}")


def in_range(name: str, value: float, low: float, high: float, *, closed_high: bool = False) -> None:
    _number(name, value, False)
    ok = low <= value <= high if closed_high else low <= value < high
    if not ok:
        bracket = "]" if closed_high else ")"
        raise ConfigError(f"{name} must be in [{low}, {high}{bracket}, got {value!r}")


def one_of(name: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")


def layer_sizes(name: str, value: tuple) -> None:
    if (
        not isinstance(value, tuple)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ConfigError(f"{name} must be a non-empty list of positive layer widths such as 256,256; got {value!r}")


def _number(name: str, value: Any, integer: bool) -> None:
    kinds = (int,) if integer else (int, float)
    if (
        isinstance(value, bool)
        or not isinstance(value, kinds)
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        kind = "an integer" if integer else "a finite number"
        raise ConfigError(f"{name} must be {kind}, got {value!r}")


# ----------------------------------------------------------------------------------------------------------
# Building configs from loose values (CLI strings, TOML, JSON)


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def normalize(config: Any) -> None:
    """For a config's `__post_init__`: a list given for a tuple field becomes a tuple (so that the frozen config
    stays hashable), a NumPy number (a seed from np.arange) becomes Python's (so that config.json can hold it), a
    bool field must hold a bool (a string such as "false" would be truthy), and an optional number, when given, must
    be a finite one."""
    for name, kind in field_types(type(config)).items():
        value = getattr(config, name)
        if typing.get_origin(kind) is tuple and isinstance(value, list):
            object.__setattr__(config, name, tuple(value))
        elif kind is bool and not isinstance(value, bool):
            raise ConfigError(f"{name} must be True or False, got {value!r}")
        elif kind is int and isinstance(value, numbers.Integral) and not isinstance(value, int):
            object.__setattr__(config, name, int(value))
        elif kind is float and isinstance(value, numbers.Real) and not isinstance(value, (int, float)):
            object.__setattr__(config, name, float(value))
        elif typing.get_origin(kind) in (typing.Union, types.UnionType) and value is not None:
            number = [a for a in typing.get_args(kind) if a in (int, float)]  # an optional number: when given, finite
            if number:
                _number(name, value, number[0] is int)


def coerce(cls: type, name: str, value: Any) -> Any:
    """Turn `value` (a string from the command line, or a JSON/TOML value) into the type of field `name`."""
    kind = field_types(cls)[name]
    try:
        return _coerce(kind, value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} expects {_describe(kind)}, got {value!r}") from None


def _coerce(kind: Any, value: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "")):
            return None
        return _coerce(args[0], value)
    if origin is tuple:
        (inner, _) = typing.get_args(kind)
        if isinstance(value, str):
            value = [v for v in value.replace(" ", "").split(",") if v]
        return tuple(_coerce(inner, v) for v in value)
    if origin is typing.Literal:
        if value not in typing.get_args(kind):
            raise ValueError(value)
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise ValueError(value)
    if kind is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        if isinstance(value, str) and "e" in value.lower():  # 1e6 is an integer; 1e-3 and 2.5e0 are not
            value = float(value)
            if not value.is_integer():
                raise ValueError(value)
        return int(value)
    if kind is float:
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(value)
        return value
    raise TypeError(kind)


def _describe(kind: Any) -> str:
    origin = typing.get_origin(kind)
    if origin is tuple:
        return "a comma-separated list of integers"
    if origin is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(kind)))
    if origin in (typing.Union, types.UnionType):
        return _describe([a for a in typing.get_args(kind) if a is not type(None)][0]) + " or none"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(kind, str(kind))


def describe(cls: type, name: str) -> str:
    return _describe(field_types(cls)[name])


def from_dict(cls: type, values: dict[str, Any], *, where: str = "config") -> Any:
    """Build `cls` from a dict, coercing each value; an unknown key is a one-line error."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown {where} key {unknown[0]!r}; known keys: {', '.join(sorted(known))}")
    return cls(**{k: coerce(cls, k, v) for k, v in values.items()})


def to_dict(config: Any) -> dict[str, Any]:
    return {
        f.name: list(v) if isinstance(v := getattr(config, f.name), tuple) else v for f in dataclasses.fields(config)
    }
