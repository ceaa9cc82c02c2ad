"""The sweep file: its schema, its points and their run configs (``load_sweep``); ``sweep.py`` runs them.

A sweep file (TOML)::

    name = "strategies"              # results go to runs/sweeps/<name>/
    base = "examples.toml"           # optional run file, relative to the sweep file
    metric = "test_hard"             # what the figure shows (val | test_easy | test_hard)

    [set]                            # optional: overrides applied to every point
    "train.epochs" = 6

    [axes]                           # dotted keys of the run file, each with a list of values
    "train.strategy" = ["erm", "consistency"]
    seed = [0, 1, 2]

    [[include]]                      # optional extra points (full assignments of the axes' keys or more)
    "train.strategy" = "group-dro"
    seed = 0

    [[grid]]                         # optional extra grids: each the Cartesian product of its own lists
    "train.strategy" = ["jtt"]
    "train.lr" = [0.001, 0.003]
    seed = [0, 1, 2]

    [[exclude]]                      # optional: drop the grid points that match every key given
    "train.strategy" = "consistency"
    seed = 2

    tune = true                      # optional: each strategy's own tuning grid (its module's ``tuning``) is
                                     # added for every point, its keys chosen like ``choose``'s (below)
    tune_seeds = [0]                 # optional, with tune: the other configurations train at these seeds only;
                                     # at every other seed, the default and the configuration the rule chose here

    choose = ["train.lr", "strategy.jtt.upweight"]   # optional (default: the learning rate): keys whose value
                                     # each method's own checkpoint rule chooses in the report (the highest mean
                                     # rule score over seeds, never hard data); the other keys stay apart

    [labels]                         # optional: readable point names in tables (value as text -> label)
    "train.strategy" = { erm = "ERM", lff = "LfF" }

    [reference]                      # optional: published numbers the points are compared with in the report
    source = "Paper (authors, venue), Table 1"   # where the numbers were read: a citation, not a run
    metric = "unbiased"              # the column compared (val | test_easy | test_hard | unbiased | worst_group | ...)
    tolerance = 3.0                  # percentage points: a point "agrees" when |ours - published| <= tolerance
    points = [{ match = { "train.strategy" = "erm" }, value = 77.63, std = 0.13 }]   # value, std in percent

Points are the Cartesian product of the axes, minus the excluded ones, plus the included
ones, plus each extra grid's product, in that order (``exclude`` applies to the axes only). Each point is one ordinary run (trained with ``run_train``, scored with
``run_eval``) named ``<name>-<key>_<value>-...`` (the last part of each key), so every other
subcommand works on it. Sweeping a ``data.*`` key gives each data config its own dataset
(``<name>-data-...``), built once, before any point trains. A finished point (same config,
all epochs, evaluated) is reused; a point cut off mid-training resumes from ``last.pt``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..config import RunConfig, load_config
from ..errors import ConfigError, UsageError
from .sweep_reference import Reference, matches, value_text
from .tuning import Tuned, tuned_points

_SAFE = re.compile(r"[^A-Za-z0-9.]+")


class SweepFile(BaseModel):
    """The sweep file's schema; run-file keys are checked when every point's config is built."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., description="sweep name: results under runs/sweeps/<name>/, runs named <name>-...")
    base: Optional[str] = Field(None, description="run file the points start from (relative to the sweep file)")
    metric: Literal["val", "test_easy", "test_hard"] = "test_hard"
    threads: Optional[int] = Field(None, ge=1, le=256, description=(
        "torch threads per point; default: this machine's cores divided by the points run at once. Float sums depend on "
        "the thread count, so bitwise-equal results across executors need the same threads"))
    set: dict[str, Any] = Field(default_factory=dict)
    axes: dict[str, list[Any]] = Field(default_factory=dict)
    include: list[dict[str, Any]] = Field(default_factory=list)
    grid: list[dict[str, list[Any]]] = Field(default_factory=list)
    exclude: list[dict[str, Any]] = Field(default_factory=list)
    choose: list[str] = Field(default_factory=lambda: ["train.lr"], description=(
        "keys whose value each method's own checkpoint rule chooses in the report (the highest mean score of its "
        "selected checkpoints over seeds; never hard data); points that differ in other keys stay apart"))
    tune: bool = Field(False, description=(
        "add every point's other configurations of its strategy's tuning grid (the module's `tuning`, default values "
        "first: the point itself is the default); their keys join `choose`"))
    tune_seeds: Optional[list[int]] = Field(None, description=(
        "with `tune`: the seeds at which every configuration of a tuning grid trains; at the other seeds a point "
        "trains its default and the configuration its rule chose at these seeds (the highest mean rule score; "
        "trained once every configuration there has finished)"))
    budgets: Optional[list[int]] = Field(None, description=(
        "read each point's one long run as the runs of these shorter budgets (epochs): at budget B, the checkpoint its "
        "rule keeps among epochs <= B (a constant learning rate makes the first B epochs those of a B-epoch run); "
        "the report draws hard accuracy against budget (the laziness map)"))
    reference: Optional[Reference] = Field(None, description="published numbers the report compares the points with")
    labels: dict[str, dict[str, str]] = Field(default_factory=dict, description=(
        "readable names of the points in tables: key -> {value as text -> label}; a point is named by the labels of "
        "its values of these keys, in this order (the other keys are left out of its name); default: key=value pairs"))

    @field_validator("choose")
    @classmethod
    def _choose(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("a key is listed twice")
        for key in v:
            if key.startswith("data.") or key in ("seed", "train.seed", "train.strategy"):
                raise ValueError(f"{key!r} cannot be chosen by a checkpoint rule: data keys define the protocol, the "
                                 "seed is replicated, the strategy is what is compared")
            if not (key.startswith("train.") or key.startswith("strategy.")):
                raise ValueError(f"{key!r} is not a training key (train.* or strategy.*)")
            problem = _not_a_training_key(key)
            if problem:
                raise ValueError(problem)
        return v

    @field_validator("budgets")
    @classmethod
    def _budgets(cls, v: Optional[list[int]]) -> Optional[list[int]]:
        if v is not None and (not v or any(b < 1 for b in v) or sorted(set(v)) != v):
            raise ValueError("budgets: give increasing epoch counts, each at least 1")
        return v

    @model_validator(mode="after")
    def _tune_seeds(self) -> "SweepFile":
        if self.tune_seeds is not None:
            if not self.tune:
                raise ValueError("tune_seeds needs tune = true")
            if not self.tune_seeds or len(set(self.tune_seeds)) != len(self.tune_seeds):
                raise ValueError("tune_seeds: give each seed once (at least one)")
        return self

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}", v):
            raise ValueError("use letters, digits, '_' and '-' (at most 41 characters, no leading '-')")
        return v

    @field_validator("axes")
    @classmethod
    def _axes(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        _check_lists(v, "axis")
        return v

    @field_validator("grid")
    @classmethod
    def _grid(cls, v: list[dict[str, list[Any]]]) -> list[dict[str, list[Any]]]:
        for g in v:
            if not g:
                raise ValueError("a [[grid]] table is empty")
            _check_lists(g, "grid key")
        return v


def _not_a_training_key(key: str) -> Optional[str]:
    """Why ``key`` (``train.*`` or ``strategy.<name>.*``) is not a run-file key, naming the valid ones (None: it is)."""
    from ..models import OPTIONS
    from ..strategies import STRATEGIES

    parts = key.split(".")
    if parts[0] == "train":
        fields = list(RunConfig.model_fields["train"].annotation.model_fields)  # type: ignore[union-attr]
        if len(parts) == 3 and parts[1] == "model_options":
            options = sorted({f for schema, _ in OPTIONS.values() if schema is not None for f in schema.model_fields})
            if parts[2] in options:
                return None
            return f"{key!r} is not a model option; valid: {', '.join(f'train.model_options.{o}' for o in options)}"
        if len(parts) == 2 and parts[1] in fields and parts[1] != "model_options":
            return None
        return f"{key!r} is not a run-file key; valid train keys: {', '.join(f'train.{f}' for f in fields if f != 'model_options')}"
    if len(parts) < 2 or parts[1] not in STRATEGIES:
        return f"{key!r} names no strategy; valid: {', '.join(f'strategy.{n}.*' for n in sorted(STRATEGIES))}"
    options = list(STRATEGIES[parts[1]].Config.model_fields)
    if len(parts) == 3 and parts[2] in options:
        return None
    return (f"{key!r} is not an option of {parts[1]}; valid: {', '.join(f'strategy.{parts[1]}.{o}' for o in options)}"
            if options else f"{key!r}: strategy {parts[1]} has no options")


def _check_lists(v: dict[str, list[Any]], what: str) -> None:
    for key, values in v.items():
        if not values:
            raise ValueError(f"{what} {key!r} has no values")
        if len({json.dumps(x, sort_keys=True) for x in values}) != len(values):
            raise ValueError(f"{what} {key!r} lists a value twice")


def _product(lists: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = list(lists)
    return [dict(zip(keys, combo)) for combo in itertools.product(*lists.values())] if keys else []


@dataclass
class Point:
    name: str
    values: dict[str, Any]  # the axis (and include) assignments that define the point
    overrides: dict[str, Any]  # everything applied on top of the base run file
    config: RunConfig = field(repr=False)
    tuned: Optional[Tuned] = None  # in a tuned sweep: its family and configuration (tuning.py)


@dataclass
class Sweep:
    spec: SweepFile
    path: Path
    base: Optional[Path]
    points: list[Point]
    # with tune_seeds: every configuration at the tuning seeds of the families that have an ``if_chosen`` point here
    # (whatever --only kept): what the sweep reads to know which of them to train
    tuning_points: list[Point] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return list(dict.fromkeys(k for p in self.points for k in p.values))


def _short(key: str) -> str:
    return key.split(".")[-1]


def _fmt(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)
    return _SAFE.sub("_", text).strip("_") or "x"


def point_name(sweep: str, values: dict[str, Any]) -> str:
    """Deterministic and readable: ``<sweep>-<key>_<value>-...``; a name over 100 characters keeps its
    first 88 and a hash of the whole."""
    name = "-".join([sweep] + [f"{_short(k)}_{_fmt(v)}" for k, v in values.items()])
    if len(name) > 100:
        name = name[:88].rstrip("-_.") + "-" + hashlib.sha256(name.encode()).hexdigest()[:10]
    return name


def load_sweep(path: Path, extra: Optional[dict[str, Any]] = None, only: Optional[dict[str, list[str]]] = None,
               defaults_only: bool = False) -> Sweep:
    """Read and validate a sweep file and build every point's config (a bad key or value: ConfigError
    naming it). ``extra`` (command-line overrides, e.g. the device) applies to every point; ``only`` keeps
    the points whose value of each given axis is one of the listed ones (compared as text)."""
    if not path.is_file():
        raise UsageError(f"sweep file {path} not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    try:
        spec = SweepFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError([f"{path}: {'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg'].removeprefix('Value error, ')}"
                           for e in exc.errors()]) from None
    base = (path.parent / spec.base).resolve() if spec.base else None
    if base is not None and not base.is_file():
        raise ConfigError([f"{path}: base: run file {base} not found"])
    if base is not None and base == path.resolve():
        raise ConfigError([f"{path}: base: names the sweep file itself; give the run file the points start from"])
    grid = _product(spec.axes)
    grid = [g for g in grid if not any(all(g.get(k) == v for k, v in ex.items()) for ex in spec.exclude)]
    for ex in spec.exclude:
        unknown = [k for k in ex if k not in spec.axes]
        if unknown:
            raise ConfigError([f"{path}: exclude: {unknown[0]!r} is not an axis"])
    assignments = grid + [dict(inc) for inc in spec.include] + [a for g in spec.grid for a in _product(g)]
    tuned: dict[str, Tuned] = {}  # point name -> where it stands in its tuning grid
    if spec.tune and not defaults_only:  # defaults_only: each point's default configuration (the same run names)
        pairs = tuned_points(path, spec, base, assignments)
        assignments = [a for a, _ in pairs]
        tuned = {point_name(spec.name, a): t for a, t in pairs}
    every_point = list(assignments)  # the whole sweep: what its [reference] is checked against, whatever --only keeps
    for key, wanted in (only or {}).items():
        if key not in spec.axes and not any(key in inc for inc in [*spec.include, *spec.grid]):
            raise ConfigError([f"--only {key}: not an axis of {path} (axes: {', '.join(spec.axes) or 'none'})"])
        known = {str(a.get(key)) for a in assignments}
        unknown = [v for v in wanted if v not in known]
        if unknown:
            raise ConfigError([f"--only {key}: {unknown[0]!r} is not one of its values ({', '.join(sorted(known))})"])
        assignments = [a for a in assignments if str(a.get(key)) in wanted]
    for where, keys in (("[set]", spec.set), ("[axes]", spec.axes), ("--set", extra or {}),
                        *(("[[include]]", inc) for inc in spec.include), *(("[[grid]]", g) for g in spec.grid)):
        if "train.name" in keys:  # every point's name is made from its values: a given one would be replaced silently
            raise ConfigError([f"{path}: {where}: train.name is set by the sweep for every point (<name>-<key>_<value>-...); "
                               "remove it (the sweep's `name` is the prefix)"])
    if not assignments:
        raise ConfigError([f"{path}: the sweep has no points (give [axes], [[include]] or [[grid]])"])
    known_keys = set(spec.axes) | {k for a in [*spec.include, *spec.grid] for k in a}
    for i, ref in enumerate(spec.reference.points if spec.reference else []):
        unknown = [k for k in ref.match if k not in known_keys]
        if unknown:
            raise ConfigError([f"{path}: reference.points.{i}.match: {unknown[0]!r} is not a key of the sweep's points "
                               f"(keys: {', '.join(sorted(known_keys))})"])
        if not any(matches(a, ref.match) for a in every_point):
            raise ConfigError([f"{path}: reference.points.{i}.match: no point of the sweep has these values ({ref.match})"])
    for i, target in enumerate(spec.reference.targets if spec.reference else []):
        unknown = [k for k in target.match if k not in known_keys or k == "train.strategy"]
        if unknown:
            raise ConfigError([f"{path}: reference.targets.{i}.match: {unknown[0]!r} is not a key of the sweep's points "
                               "other than the strategy"])
        if not any(matches(a, target.match) for a in every_point):
            raise ConfigError([f"{path}: reference.targets.{i}.match: no point of the sweep has these values ({target.match})"])
    for key, names in spec.labels.items():
        if key not in known_keys:
            raise ConfigError([f"{path}: labels: {key!r} is not a key of the sweep's points (keys: {', '.join(sorted(known_keys))})"])
        seen_values = {value_text(a[key]) for a in every_point if key in a}
        unknown = [v for v in names if v not in seen_values]
        if unknown:
            raise ConfigError([f"{path}: labels.{key}: {unknown[0]!r} is not one of its values ({', '.join(sorted(seen_values))})"])
    data_keys = [k for k in dict.fromkeys(k for a in assignments for k in a) if k.startswith("data.")]

    def make(name: str, values: dict[str, Any]) -> Point:
        over = {**spec.set, **values, **(extra or {}), "train.name": name}
        if data_keys and "data.name" not in over:
            over["data.name"] = point_name(f"{spec.name}-data", {k: values.get(k, spec.set.get(k)) for k in data_keys})
        try:
            cfg = load_config(base, over)
        except ConfigError as exc:
            raise ConfigError([f"{path}: point {name}: {p}" for p in exc.problems]) from None
        return Point(name, values, over, cfg, tuned.get(name))

    points, seen = [], {}
    for values in assignments:
        name = point_name(spec.name, values)
        if name in seen:
            raise ConfigError([f"{path}: two points are both named {name!r} ({seen[name]} and {values})"])
        seen[name] = values
        points.append(make(name, values))
    for p in points if spec.budgets else []:  # a budget must be a prefix of the point's own run
        t = p.config.train
        if t.schedule != "constant" or t.epochs < spec.budgets[-1]:
            raise ConfigError([f"{path}: budgets: point {p.name} trains {t.epochs} epochs with a {t.schedule} "
                               f"schedule; reading budgets up to {spec.budgets[-1]} from its history needs a constant "
                               "learning rate and at least that many epochs"])
    families = {p.tuned.family for p in points if p.tuned and p.tuned.if_chosen}
    tuning_points = []
    for values in every_point:  # the tuning seeds' configurations of those families, built like the points above
        name = point_name(spec.name, values)
        t = tuned.get(name)
        if t is None or t.family not in families or values.get("seed") not in (spec.tune_seeds or []):
            continue
        tuning_points.append(next((p for p in points if p.name == name), None) or make(name, values))
    return Sweep(spec, path, base, points, tuning_points)
