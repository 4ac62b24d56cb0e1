"""Typed configuration base: dataclasses that round-trip to YAML/JSON.

Subclass :class:`Config` with ``@dataclass``. Nested dataclasses, lists, dicts, Optionals
and enums-as-strings are supported. Loading uses ``yaml.safe_load`` only and rejects unknown
keys with a message naming the key and its path (``recipe.optimizer.lrr``), so a typo in a
YAML file never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import yaml

__all__ = ["Config", "ConfigError", "apply_overrides", "from_dict", "parse_yaml", "to_dict"]

T = TypeVar("T", bound="Config")


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message names the key."""


def parse_yaml(text: str, source: str | Path = "<string>") -> Any:
    """``yaml.safe_load(text)``; invalid YAML raises one :class:`ConfigError` line naming
    ``source`` (the file), the line and the column:
    ``cfg.yaml, line 4, column 7: not valid YAML: expected ',' or ']', but got ':' (while parsing
    a flow sequence started at line 3, column 8)``."""
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(source)
        started = ""
        if exc.problem and exc.context and exc.context_mark is not None:
            m = exc.context_mark
            started = f" ({exc.context} started at line {m.line + 1}, column {m.column + 1})"
        raise ConfigError(f"{where}: not valid YAML: {exc.problem or exc.context}{started}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from None


def to_dict(obj: Any) -> Any:
    """Dataclass (recursively) → plain dict/list/scalars."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _convert(tp: Any, value: Any, where: str) -> Any:
    if tp is Any:
        return value
    origin = get_origin(tp)
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(a, value, where)
            except (ConfigError, TypeError, ValueError) as e:
                errors.append(str(e))
        raise ConfigError(f"{where}: value {value!r} does not match {tp}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return from_dict(tp, value, _where=where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
            return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        inner = args[0] if args else Any
        out = [_convert(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        _kt, vt = (get_args(tp) + (Any, Any))[:2]
        return {k: _convert(vt, v, f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or (not isinstance(value, (int, str)) and not (
            isinstance(value, float) and value.is_integer()
        )):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any] | None, _where: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys raise :class:`ConfigError`."""
    data = dict(data or {})
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        key = f"{_where}.{unknown[0]}" if _where else unknown[0]
        raise ConfigError(
            f"unknown config key {key!r} for {cls.__name__}; valid keys: {', '.join(sorted(names))}"
        )
    kwargs = {}
    for name, value in data.items():
        where = f"{_where}.{name}" if _where else name
        kwargs[name] = _convert(hints[name], value, where)
    return cls(**kwargs)


def _set_path(d: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    cur = d
    for k in keys[:-1]:
        if k not in cur or not isinstance(cur[k], dict):
            cur[k] = {}
        cur = cur[k]
    cur[keys[-1]] = value


def apply_overrides(data: dict[str, Any], overrides: list[str] | dict[str, Any]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings (values parsed as YAML) or a dotted-key dict to ``data``."""
    data = json.loads(json.dumps(data))
    items = overrides.items() if isinstance(overrides, dict) else []
    if not isinstance(overrides, dict):
        parsed = []
        for item in overrides:
            if "=" not in item:
                raise ConfigError(f"override {item!r} is not of the form key=value")
            k, v = item.split("=", 1)
            parsed.append((k.strip(), yaml.safe_load(v)))
        items = parsed
    for k, v in items:
        _set_path(data, k, v)
    return data


@dataclasses.dataclass
class Config:
    """Base class for typed configs (use as ``@dataclass class Recipe(Config): ...``)."""

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> typing.Self:
        return from_dict(cls, data)

    def to_yaml(self, path: str | Path | None = None) -> str:
        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            from .utils import (
                atomic_write_text,  # local: afg.utils loads torch; afg.config stays torch-free (CLI, DataSpec)
            )

            atomic_write_text(path, text)
        return text

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            from .utils import (
                atomic_write_text,  # local: afg.utils loads torch; afg.config stays torch-free (CLI, DataSpec)
            )

            atomic_write_text(path, text)
        return text

    @classmethod
    def from_yaml(cls, source: str | Path) -> typing.Self:
        """Load from a YAML file path or a YAML string (``yaml.safe_load`` only)."""
        p = Path(source) if not isinstance(source, str) or "\n" not in source else None
        if p is not None and p.exists():
            text, name = p.read_text(), str(p)
        elif isinstance(source, str) and ("\n" in source or ":" in source):
            text, name = source, "<config text>"
        else:
            raise ConfigError(f"config file not found: {source}")
        data = parse_yaml(text, name) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: top level must be a mapping")
        return cls.from_dict(data)

    @classmethod
    def from_json(cls, source: str | Path) -> typing.Self:
        p = Path(source)
        text = p.read_text() if p.exists() else str(source)
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> typing.Self:
        return dataclasses.replace(self, **changes)

    def override(self, overrides: list[str] | dict[str, Any]) -> typing.Self:
        """A copy with dotted overrides applied (``["optimizer.lr=1e-4"]``), validated."""
        return type(self).from_dict(apply_overrides(self.to_dict(), overrides))
