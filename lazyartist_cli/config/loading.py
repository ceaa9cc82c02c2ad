"""Reading a run file: TOML, ``--set`` overrides, validation with one readable line per problem."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Optional

from pydantic import ValidationError

from ..errors import ConfigError, UsageError
from .run import RunConfig


def _validate_strategy_sections(cfg: RunConfig) -> list[str]:
    from ..strategies import STRATEGIES

    problems = []
    for name, options in cfg.strategy.items():
        if name not in STRATEGIES:
            problems.append(f"strategy.{name}: unknown strategy; valid: {', '.join(sorted(STRATEGIES))}")
            continue
        try:
            STRATEGIES[name].Config.model_validate(options)
        except ValidationError as exc:
            problems += [f"strategy.{name}.{p}" for p in _format_errors(exc)]
    return problems


def _format_errors(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        msg = msg.removeprefix("Value error, ")
        msg = msg.replace("Input should be less than or equal to", "must be <=")
        msg = msg.replace("Input should be greater than or equal to", "must be >=")
        msg = msg.replace("Extra inputs are not permitted", "unknown key")
        problems.append(f"{loc}: {msg}" if loc else msg)
    return problems


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``tree['a']['b'] = value`` for ``dotted = 'a.b'``, creating tables."""
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        nxt = node.setdefault(key, {})
        if not isinstance(nxt, dict):
            raise UsageError(f"--set {dotted}: {key} is not a table")
        node = nxt
    node[keys[-1]] = value


def parse_set(item: str) -> tuple[str, Any]:
    """Parse ``key.path=value``; the value is read as a TOML literal, else as a string."""
    if "=" not in item:
        raise UsageError(f"--set {item!r}: expected KEY=VALUE, e.g. --set data.correlation=0.9")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise UsageError(f"--set {item!r}: the key before '=' must be a dotted run-file key, e.g. --set data.correlation=0.9")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows editors) is accepted
    except FileNotFoundError:
        raise UsageError(f"run file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read run file {path}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: malformed TOML: {exc}"]) from None


def load_config(path: Optional[Path] = None, overrides: Optional[dict[str, Any]] = None) -> RunConfig:
    """Defaults < run file < overrides (dotted keys); validated, with readable errors."""
    tree: dict[str, Any] = read_toml(path) if path else {}
    for key, value in (overrides or {}).items():
        if value is not None:
            set_dotted(tree, key, value)
    return validate_config(tree)


def validate_config(tree: dict[str, Any]) -> RunConfig:
    """A run-config tree (as in the TOML file) validated, strategy sections included;
    every problem becomes one line of a ``ConfigError``."""
    try:
        cfg = RunConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None
    problems = _validate_strategy_sections(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg
