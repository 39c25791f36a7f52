"""Typed job settings: a frozen dataclass per job, validated from TOML values or CLI strings.

A field may carry `metadata={"min": 5, "max": 1440}` or `{"choices": (...)}`; cross-field rules
go in `__post_init__` and raise ValueError with an operator-readable message.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

from .errors import UsageError


class SettingError(UsageError):
    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(f"setting {key!r}: {message}" if key else message)
        self.key = key


@dataclasses.dataclass(frozen=True)
class NoSettings:
    """For jobs that take no settings."""


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """Each field's type (cached: settings classes do not change; do not mutate the result)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def build_settings(cls: type, layers: list[Mapping[str, Any]]) -> Any:
    """Merge layers (defaults first) into an instance of `cls`, checking every value."""
    types_ = field_types(cls)
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if key not in types_:
                known = ", ".join(types_) or "none"
                raise SettingError(key, f"unknown setting (known: {known})")
            merged[key] = coerce_value(key, value, types_[key], _field(cls, key).metadata)
    try:
        return cls(**merged)
    except TypeError as exc:
        raise SettingError(None, f"missing settings: {exc}") from None
    except ValueError as exc:
        raise SettingError(None, str(exc)) from None


def _field(cls: type, key: str) -> dataclasses.Field[Any]:
    return next(f for f in dataclasses.fields(cls) if f.name == key)


def coerce_value(key: str, value: Any, kind: Any, meta: Mapping[str, Any]) -> Any:
    optional, base = _unwrap_optional(kind)
    if value is None or (optional and value in ("", "none", "null")):
        if optional:
            return None
        raise SettingError(key, "a value is required")
    result = _coerce_base(key, value, base)
    _check_meta(key, result, meta)
    return result


def _unwrap_optional(kind: Any) -> tuple[bool, Any]:
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        return len(args) < len(typing.get_args(kind)), args[0]
    return False, kind


def _coerce_base(key: str, value: Any, base: Any) -> Any:
    if base is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in (
            "true",
            "yes",
            "on",
            "1",
            "false",
            "no",
            "off",
            "0",
        ):
            return value.lower() in ("true", "yes", "on", "1")
        raise SettingError(key, f"expected true or false, got {value!r}")
    if base in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise SettingError(key, f"expected a number, got {value!r}")
        try:
            number = base(value)
        except ValueError:
            raise SettingError(
                key, f"expected {'a whole' if base is int else 'a'} number, got {value!r}"
            ) from None
        if base is int and isinstance(value, float) and not value.is_integer():
            raise SettingError(key, f"expected a whole number, got {value!r}")
        return number
    if base is str:
        if not isinstance(value, str):
            raise SettingError(key, f"expected text, got {value!r}")
        return value
    return value


def _check_meta(key: str, value: Any, meta: Mapping[str, Any]) -> None:
    if "min" in meta and value < meta["min"]:
        raise SettingError(key, f"{value!r} is below the minimum {meta['min']}")
    if "max" in meta and value > meta["max"]:
        raise SettingError(key, f"{value!r} is above the maximum {meta['max']}")
    if "choices" in meta and value not in meta["choices"]:
        raise SettingError(key, f"{value!r} is not one of {', '.join(map(str, meta['choices']))}")


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """`key=value` strings from the command line; the value stays text until coerced."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad setting {pair!r}: write key=value")
        result[key.strip()] = value.strip()
    return result


def as_dict(settings: Any) -> dict[str, Any]:
    return dataclasses.asdict(settings)
