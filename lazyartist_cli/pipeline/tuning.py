"""``tune = true`` in a sweep file: every point followed by the other configurations of its strategy's tuning grid
(the strategy module's ``tuning``, each key's default first), whose keys join the file's ``choose``.

With ``tune_seeds``, the other configurations train at those seeds only; at every other seed a point trains its
default and, marked ``if_chosen``, the configurations that the run's own rule may choose: the sweep trains the one
that ``choose`` picks from the tuning seeds' finished runs (``sweep.py``), the report reads the same choice."""

from __future__ import annotations

import itertools
import json
import statistics
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Tuned:
    """Where a point of a tuned sweep stands in its method's tuning grid."""
    family: str  # the default point's values but the seed (JSON): its configurations at every seed
    config: tuple[tuple[str, str], ...]  # (key, value as JSON) of the tuning grid; () for the default point itself
    if_chosen: bool  # a configuration at a seed outside ``tune_seeds``: trained only if the rule chose it there


def config_key(values: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((k, json.dumps(v, sort_keys=True)) for k, v in values.items())


def choose(scores: dict[Any, list[Optional[float]]]) -> Optional[Any]:
    """The configuration whose rule scores (one per seed, the same seeds for each) have the highest mean; a tie goes to
    the one with the fewest tuned keys (the default: ``()``). None while any score is missing."""
    best: Optional[tuple] = None
    for config, values in scores.items():
        if not values or any(v is None for v in values):
            return None
        key = (statistics.fmean(values), -len(config))  # type: ignore[arg-type]
        if best is None or key > best[0]:
            best = (key, config)
    return best[1] if best else None


def tuned_points(path: Path, spec: Any, base: Optional[Path], assignments: list[dict[str, Any]]
                 ) -> list[tuple[dict[str, Any], Tuned]]:
    """``tune = true``: after each point, the other configurations of its strategy's tuning grid (each key's first value
    is the default, which the point itself must have); the grid's keys join ``spec.choose``. With ``spec.tune_seeds``,
    a configuration at another seed is marked ``if_chosen``."""
    from ..strategies import get_strategy

    out = []
    seeds = {a.get("seed") for a in assignments}
    for s in spec.tune_seeds or []:
        if s not in seeds:
            raise ConfigError([f"{path}: tune_seeds: {s} is not one of the sweep's seeds "
                               f"({', '.join(str(x) for x in sorted(x for x in seeds if x is not None)) or 'none'})"])
    for a in assignments:
        family = json.dumps({k: v for k, v in a.items() if k != "seed"}, sort_keys=True)
        out.append((a, Tuned(family, (), False)))
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
        later = spec.tune_seeds is not None and a.get("seed") not in spec.tune_seeds
        for combo in _product(tuning)[1:]:  # the first combination is the point itself
            out.append(({**{k: v for k, v in a.items() if k != "seed"}, **combo,
                         **({"seed": a["seed"]} if "seed" in a else {})}, Tuned(family, config_key(combo), later)))
    return out
