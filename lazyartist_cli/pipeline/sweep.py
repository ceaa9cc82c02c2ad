"""``sweep``: a grid of ordinary runs described once, run on this machine or a Ray cluster.

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

Points are the Cartesian product of the axes, minus the excluded ones, plus the included
ones, plus each extra grid's product, in that order (``exclude`` applies to the axes only). Each point is one ordinary run (trained with ``run_train``, scored with
``run_eval``) named ``<name>-<key>_<value>-...`` (the last part of each key), so every other
subcommand works on it. Sweeping a ``data.*`` key gives each data config its own dataset
(``<name>-data-...``), built once, before any point trains. A finished point (same config,
all epochs, evaluated) is reused; a point cut off mid-training resumes from ``last.pt``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import re
import statistics
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..allocator import tune_allocator
from ..config import RunConfig, load_config
from ..errors import ConfigError, LazyError, UsageError
from ..runs import ensure_dir, read_json, run_dir, write_json_atomic, write_text_atomic
from .reporter import SILENT, Reporter

SWEEPS_DIR = "sweeps"
# the field's standard scores stored by eval (metrics.shortcut_metrics), summarised beside the splits
GROUP_METRICS = ("unbiased", "worst_group", "bias_conflicting", "aligned")
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


@dataclass
class Sweep:
    spec: SweepFile
    path: Path
    base: Optional[Path]
    points: list[Point]

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


def load_sweep(path: Path, extra: Optional[dict[str, Any]] = None, only: Optional[dict[str, list[str]]] = None) -> Sweep:
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
        raise ConfigError([f"{path}: {'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
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
    data_keys = [k for k in dict.fromkeys(k for a in assignments for k in a) if k.startswith("data.")]
    points, seen = [], {}
    for values in assignments:
        name = point_name(spec.name, values)
        if name in seen:
            raise ConfigError([f"{path}: two points are both named {name!r} ({seen[name]} and {values})"])
        seen[name] = values
        over = {**spec.set, **values, **(extra or {}), "train.name": name}
        if data_keys and "data.name" not in over:
            over["data.name"] = point_name(f"{spec.name}-data", {k: values.get(k, spec.set.get(k)) for k in data_keys})
        try:
            cfg = load_config(base, over)
        except ConfigError as exc:
            raise ConfigError([f"{path}: point {name}: {p}" for p in exc.problems]) from None
        points.append(Point(name, values, over, cfg))
    return Sweep(spec, path, base, points)


# ---------- one point (runs in whichever process the executor chose)

def run_point(job: dict[str, Any]) -> dict[str, Any]:
    """Train (or resume, or reuse) and evaluate one point; never raises: a failure is a row with its error."""
    tune_allocator()  # this may be a fresh worker process (process or Ray executor)
    import torch

    from .evaluate import run_eval
    from .study import _run_state
    from .selection import selection_score
    from .train import run_train

    t0 = time.perf_counter()
    row: dict[str, Any] = {"run": job["name"], **{f"axis:{k}": v for k, v in job["values"].items()}}
    before = torch.get_num_threads()
    try:
        if job.get("threads"):
            torch.set_num_threads(job["threads"])
        runs_dir = Path(job["runs_dir"])
        cfg = load_config(Path(job["base"]) if job["base"] else None, job["overrides"])
        state = _run_state(cfg, runs_dir)
        evaluated = (run_dir(runs_dir, job["name"]) / "eval" / "metrics.json").is_file()
        if state == "other":
            raise LazyError(f"run {job['name']!r} exists with a different config; move it away or delete it")
        if state == "done" and evaluated:
            status = "reused"
        else:
            if state != "done":
                run_train(cfg, runs_dir, resume=state == "partial")
            run_eval(cfg, runs_dir, [job["name"]])
            status = {"absent": "ran", "partial": "resumed", "done": "evaluated"}[state]
        ev = read_json(run_dir(runs_dir, job["name"]) / "eval" / "metrics.json", "metrics")
        groups = ev.get("groups") or {}
        from ..strategies import get_strategy
        from ..strategies.base import effective_knowledge

        rule = cfg.train.selection_rule(cfg.strategy_config())
        row.update({"status": status, "val": ev["val"], "test_easy": ev["test_easy"], "test_hard": ev["test_hard"],
                    **{k: groups.get(k) for k in GROUP_METRICS},
                    "protocol": cfg.data.protocol, "dataset": cfg.dataset_name(), "strategy": cfg.train.strategy, "input": cfg.train.input,
                    "knows": ("nothing (sees no colour)" if cfg.train.input == "colorblind" else effective_knowledge(
                        get_strategy(cfg.train.strategy).knowledge(cfg.strategy_config(), cfg.data.protocol), rule)),
                    "select": rule, "lr": cfg.train.learning_rate(),
                    "selection_score": selection_score(run_dir(runs_dir, job["name"]), ev.get("checkpoint_epoch")),
                    "checkpoint_epoch": ev.get("checkpoint_epoch"), "error": ""})
    except Exception as exc:  # noqa: BLE001 - a failed point must not stop the others; its error is stored
        row.update({"status": "failed", "val": None, "test_easy": None, "test_hard": None, "checkpoint_epoch": None,
                    **{k: None for k in GROUP_METRICS},
                    "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]})
    finally:
        torch.set_num_threads(before)
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


# ---------- the sweep

def run_sweep(sweep: Sweep, runs_dir: Path, executor: str = "local", workers: int = 1, address: Optional[str] = None,
              reporter: Reporter = SILENT) -> dict[str, Any]:
    """Build each distinct dataset once, run every point with ``executor``, write
    ``runs/sweeps/<name>/results.{csv,json}`` and a figure. Returns the results (``ok``: every point succeeded)."""
    from ..executors import EXECUTORS
    from .data import run_make_data, run_verify_data

    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    if workers < 1:
        raise UsageError("--workers must be at least 1")
    if workers > 1 and executor == "local":
        raise UsageError(f"--workers {workers} needs --executor process or ray; the local executor runs one point at a time")
    if address is not None and executor != "ray":
        raise UsageError(f"--address is for --executor ray (a Ray cluster); the {executor} executor would ignore it")
    runner = EXECUTORS[executor](workers=workers, address=address)
    runner.check()  # e.g. an unreachable Ray cluster: fail in seconds, before any dataset is built
    ensure_dir(runs_dir)
    t0 = time.perf_counter()
    datasets: dict[str, RunConfig] = {}
    for p in sweep.points:
        datasets.setdefault(p.config.data.name, p.config)
    for cfg in datasets.values():  # once, here: workers only read them
        made = run_make_data(cfg, runs_dir, reporter=reporter)
        if made.built:
            ver = run_verify_data(cfg, runs_dir, grids=False, reporter=reporter)
            if not ver.ok:
                raise LazyError(f"verify-data failed for dataset {cfg.data.name!r}")
    from ..executors.base import cpu_count

    threads = sweep.spec.threads or max(1, cpu_count() // workers)
    jobs = [{"name": p.name, "values": p.values, "overrides": p.overrides, "base": str(sweep.base) if sweep.base else None,
             "runs_dir": str(runs_dir.resolve()), "threads": threads} for p in sweep.points]
    rows = runner.run(run_point, jobs, reporter)
    out_dir = ensure_dir(runs_dir / SWEEPS_DIR / sweep.spec.name)
    result = {"sweep": sweep.spec.name, "file": str(sweep.path), "executor": executor, "workers": workers, "threads": threads,
              "axes": sweep.spec.axes, "set": sweep.spec.set, "metric": sweep.spec.metric, "points": rows,
              "seconds": round(time.perf_counter() - t0, 1), "ok": all(r["status"] != "failed" for r in rows)}
    write_json_atomic(out_dir / "results.json", result)
    write_text_atomic(out_dir / "results.csv", _csv(rows))
    summary = summarise(rows, sweep.spec.metric)
    result["summary"] = summary
    fig = sweep_figure(summary, sweep.spec.metric, out_dir / "results.png", sweep.spec.name)
    result["paths"] = {"json": str(out_dir / "results.json"), "csv": str(out_dir / "results.csv"),
                       "figure": str(fig) if fig else None}
    write_json_atomic(out_dir / "results.json", result)
    return result


def _csv(rows: list[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in keys})
    return buf.getvalue()


def _is_seed(key: str) -> bool:
    return key in ("seed", "train.seed")


def summarise(rows: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """Mean and sample std of every split over seeds, per combination of the other axes."""
    axes = [k[5:] for k in dict.fromkeys(k for r in rows for k in r if k.startswith("axis:"))]
    groups_by = [a for a in axes if not _is_seed(a)]
    groups: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["status"] == "failed":
            continue
        key = json.dumps([r.get(f"axis:{a}") for a in groups_by])
        g = groups.setdefault(key, {"values": {a: r.get(f"axis:{a}") for a in groups_by}, "runs": []})
        g["runs"].append(r)
    out = []
    for g in groups.values():
        entry = {"values": g["values"], "n": len(g["runs"]), "runs": [r["run"] for r in g["runs"]],
                 **{k: g["runs"][0].get(k) for k in ("protocol", "strategy", "knows", "select", "lr")}}
        for split in ("val", "test_easy", "test_hard", *GROUP_METRICS):
            vals = [r.get(split) for r in g["runs"]]
            if any(v is None for v in vals):  # points scored before eval stored the group metrics
                entry[split] = entry[f"{split}_std"] = None
                continue
            entry[split] = statistics.fmean(vals)
            entry[f"{split}_std"] = statistics.stdev(vals) if len(vals) > 1 else None
        out.append(entry)
    return {"axes": groups_by, "metric": metric, "groups": out}


def sweep_figure(summary: dict[str, Any], metric: str, path: Path, title: str) -> Optional[Path]:
    """One non-seed axis: the metric against it (mean +- std over seeds); two: a heatmap of the mean."""
    import matplotlib.pyplot as plt

    from ..figures import save

    axes, groups = summary["axes"], summary["groups"]
    if not groups or len(axes) not in (1, 2):
        return None
    if len(axes) == 1:
        a = axes[0]
        fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(groups) + 2), 3.2))
        labels = [str(g["values"][a]) for g in groups]
        for split, style in (("test_easy", "o--"), ("test_hard", "o-")) if metric != "val" else (("val", "o-"),):
            ax.errorbar(range(len(groups)), [100 * g[split] for g in groups],
                        yerr=[100 * (g[f"{split}_std"] or 0) for g in groups], fmt=style, capsize=3, label=split)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
        ax.set_xlabel(a)
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(0, 100)
        ax.legend(fontsize=8)
        return save(fig, path, dpi=110, suptitle=f"sweep {title}: mean ± std over seeds")
    a, b = axes
    xs = list(dict.fromkeys(json.dumps(g["values"][a]) for g in groups))
    ys = list(dict.fromkeys(json.dumps(g["values"][b]) for g in groups))
    import numpy as np

    grid = np.full((len(ys), len(xs)), np.nan)
    for g in groups:
        grid[ys.index(json.dumps(g["values"][b])), xs.index(json.dumps(g["values"][a]))] = 100 * g[metric]
    fig, ax = plt.subplots(figsize=(1.1 * len(xs) + 2.5, 0.7 * len(ys) + 1.8))
    im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=100)
    for i in range(len(ys)):
        for j in range(len(xs)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", fontsize=7, color="w")
    ax.set_xticks(range(len(xs)))
    ax.set_xticklabels([json.loads(x) for x in xs], rotation=20, ha="right", fontsize=8)
    ax.set_yticks(range(len(ys)))
    ax.set_yticklabels([json.loads(y) for y in ys], fontsize=8)
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    fig.colorbar(im, ax=ax, label=f"{metric} (%)")
    return save(fig, path, dpi=110, suptitle=f"sweep {title}: mean {metric} over seeds")
