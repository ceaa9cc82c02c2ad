"""``tune = true`` in a sweep file: every point followed by the other configurations of its strategy's tuning grid
(the strategy module's ``tuning``, each key's default first), whose keys join the file's ``choose``."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Optional

from ..config import RunConfig, load_config
from ..errors import ConfigError


def same_value(a: Any, b: Any) -> bool:
    """Equal as sweep values, numbers compared as numbers (TOML's 255 and 255.0 match), lists and tables inside."""
    def norm(v: Any) -> Any:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, dict):
            return {k: norm(x) for k, x in sorted(v.items())}
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        return v
    return norm(a) == norm(b)


def _product(lists: dict[str, list[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(lists, combo)) for combo in itertools.product(*lists.values())]


def _value_of(cfg: RunConfig, key: str) -> Any:
    node: Any = cfg.model_dump(mode="json")
    parts = key.split(".")
    if parts[0] == "strategy":  # the strategy's validated options (defaults filled in)
        return getattr(cfg.strategy_config(parts[1]), parts[2])
    if key == "train.lr":  # the rate in force (None in the file: the strategy's own default)
        return cfg.train.learning_rate()
    for part in parts:
        node = node[part]
    return node


def tuned_points(path: Path, spec: Any, base: Optional[Path], assignments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``tune = true``: after each point, the other configurations of its strategy's tuning grid (each key's first value
    is the default, which the point itself must have); the grid's keys join ``spec.choose``."""
    from ..strategies import get_strategy

    out = []
    for a in assignments:
        out.append(a)
        try:
            cfg = load_config(base, {**spec.set, **a})
        except ConfigError as exc:
            raise ConfigError([f"{path}: point {a}: {p}" for p in exc.problems]) from None
        tuning = get_strategy(cfg.train.strategy).tuning
        for key, values in tuning.items():
            if not same_value(_value_of(cfg, key), values[0]):
                raise ConfigError([f"{path}: tune: point {a} has {key} = {_value_of(cfg, key)!r}, not the default of "
                                   f"{cfg.train.strategy}'s tuning grid ({values[0]!r}, its first value)"])
            if key not in spec.choose:
                spec.choose.append(key)
        for combo in _product(tuning)[1:]:  # the first combination is the point itself
            out.append({**{k: v for k, v in a.items() if k != "seed"}, **combo,
                        **({"seed": a["seed"]} if "seed" in a else {})})
    return out
