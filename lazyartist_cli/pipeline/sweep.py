"""``sweep``: a grid of ordinary runs described once (``sweep_file.py``: the file, its points and their
configs), run on this machine or a Ray cluster.

Each point is one ordinary run (trained with ``run_train``, scored with ``run_eval``), so every other
subcommand works on it. Sweeping a ``data.*`` key gives each data config its own dataset, built once,
before any point trains. A finished point (same config, all epochs, evaluated) is reused; a point cut off
mid-training resumes from ``last.pt``. Results: ``runs/sweeps/<name>/results.{csv,json}`` and, when the points
vary one or two keys besides the seed and at least one succeeded, ``results.png`` (``sweep_figure``).
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import time
from pathlib import Path
from typing import Any, Optional

from ..allocator import tune_allocator
from ..config import RunConfig, load_config
from ..errors import LazyError, UsageError
from ..runs import ensure_dir, read_json, run_dir, write_json_atomic, write_text_atomic
from .reporter import SILENT, Reporter
from .sweep_file import Point, Sweep

SWEEPS_DIR = "sweeps"
# the field's standard scores stored by eval (metrics.shortcut_metrics), summarised beside the splits
GROUP_METRICS = ("unbiased", "worst_group", "bias_conflicting", "aligned")
# the final epoch's model (eval's "last"): what a paper's code that keeps the last model reports; the same training
LAST_METRICS = tuple(f"last_{k}" for k in ("test_easy", "test_hard", *GROUP_METRICS))


def _last_scores(ev: dict[str, Any]) -> dict[str, Any]:
    last = ev.get("last") or {}
    flat = {"test_easy": last.get("test_easy"), "test_hard": last.get("test_hard"), **(last.get("groups") or {})}
    return {f"last_{k}": flat.get(k) for k in ("test_easy", "test_hard", *GROUP_METRICS)}


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
        if (job.get("collect") and not (state == "done" and evaluated)) or job.get("undecided"):
            row.update({"status": "pending", "seconds": 0.0, "error": "", "checkpoint_epoch": None,
                        **{k: None for k in ("val", "test_easy", "test_hard", *GROUP_METRICS, *LAST_METRICS)}})
            return row
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
                    **{k: groups.get(k) for k in GROUP_METRICS}, **_last_scores(ev),
                    "protocol": cfg.data.protocol, "dataset": cfg.dataset_name(), "strategy": cfg.train.strategy, "input": cfg.train.input,
                    "knows": ("nothing (sees no colour)" if cfg.train.input == "colorblind" else effective_knowledge(
                        get_strategy(cfg.train.strategy).knowledge(cfg.strategy_config(), cfg.data.protocol), rule)),
                    "select": rule, "lr": cfg.train.learning_rate(),
                    "selection_score": selection_score(run_dir(runs_dir, job["name"]), ev.get("checkpoint_epoch")),
                    "checkpoint_epoch": ev.get("checkpoint_epoch"), "error": ""})
    except Exception as exc:  # noqa: BLE001 - a failed point must not stop the others; its error is stored
        row.update({"status": "failed", "val": None, "test_easy": None, "test_hard": None, "checkpoint_epoch": None,
                    **{k: None for k in (*GROUP_METRICS, *LAST_METRICS)},
                    "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]})
    finally:
        torch.set_num_threads(before)
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


# ---------- the sweep

def _chosen_configs(sweep: Sweep, jobs: list[dict[str, Any]]) -> dict[str, Optional[tuple]]:
    """Family -> the configuration its rule chooses at the tuning seeds (``tuning.choose`` over their finished runs'
    rule scores; None while one of them has not finished). Reads the runs' stored results; trains nothing."""
    from .tuning import choose

    scores: dict[str, dict[tuple, list[Optional[float]]]] = {}
    for p, j in zip(sweep.tuning_points, jobs):
        row = run_point(j)
        ok = row["status"] not in ("pending", "failed")
        scores.setdefault(p.tuned.family, {}).setdefault(p.tuned.config, []).append(
            row.get("selection_score") if ok else None)
    return {family: choose(configs) for family, configs in scores.items()}


def run_sweep(sweep: Sweep, runs_dir: Path, executor: str = "local", workers: int = 1, address: Optional[str] = None,
              collect: bool = False,
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
    for cfg in ([] if collect else datasets.values()):  # once, here: workers only read them (collect: none is built)
        made = run_make_data(cfg, runs_dir, reporter=reporter)
        if made.built:
            ver = run_verify_data(cfg, runs_dir, grids=False, reporter=reporter)
            if not ver.ok:
                raise LazyError(f"verify-data failed for dataset {cfg.data.name!r}")
    from ..executors.base import cpu_count

    threads = sweep.spec.threads or max(1, cpu_count() // workers)

    def job(p: Point, collect: bool) -> dict[str, Any]:
        return {"name": p.name, "values": p.values, "overrides": p.overrides,
                "base": str(sweep.base) if sweep.base else None, "runs_dir": str(runs_dir.resolve()), "threads": threads,
                "collect": collect}

    later = [p for p in sweep.points if p.tuned and p.tuned.if_chosen]  # tune_seeds: trained only if chosen
    held = {p.name for p in later}

    def run(ps: list[Point]) -> dict[str, dict[str, Any]]:
        return {r["run"]: r for r in runner.run(run_point, [job(p, collect) for p in ps], reporter)} if ps else {}

    done = run([p for p in sweep.points if p.name not in held])
    not_chosen: list[str] = []
    if later:  # after the tuning seeds' points of this invocation have finished: which configurations the rules chose
        chosen = _chosen_configs(sweep, [job(p, True) for p in sweep.tuning_points])
        run_now = [p for p in later if chosen.get(p.tuned.family) == p.tuned.config]
        not_chosen = [p.name for p in later if chosen.get(p.tuned.family) not in (None, p.tuned.config)]
        done.update(run(run_now))
        for p in later:  # undecided (the tuning seeds' runs not all finished): pending, like an untrained point
            if p.tuned.family not in chosen or chosen[p.tuned.family] is None:
                done[p.name] = run_point({**job(p, True), "undecided": True})
    rows = [done[p.name] for p in sweep.points if p.name in done]
    out_dir = ensure_dir(runs_dir / SWEEPS_DIR / sweep.spec.name)
    invocations = _earlier_invocations(out_dir / "results.json")
    if not collect:  # what each invocation trained and its wall time, kept across invocations (and --collect)
        invocations.append({"executor": executor, "workers": workers, "threads": threads, "points": len(rows),
                            "trained": sum(r["status"] in ("ran", "resumed") for r in rows),
                            "seconds": round(time.perf_counter() - t0, 1)})
    result = {"sweep": sweep.spec.name, "file": str(sweep.path), "executor": None if collect else executor,
              "workers": None if collect else workers, "threads": None if collect else threads,
              "axes": sweep.spec.axes, "grids": len(sweep.spec.grid), "includes": len(sweep.spec.include),
              "choose": sweep.spec.choose, "tune": sweep.spec.tune, "budgets": sweep.spec.budgets, "set": sweep.spec.set, "metric": sweep.spec.metric,
              "reference": sweep.spec.reference.model_dump(mode="json") if sweep.spec.reference else None,
              "labels": sweep.spec.labels, "points": rows,
              "seconds": round(time.perf_counter() - t0, 1), "ok": all(r["status"] != "failed" for r in rows),
              "collected": collect, "invocations": invocations, "tune_seeds": sweep.spec.tune_seeds,
              "not_chosen": not_chosen}
    write_json_atomic(out_dir / "results.json", result)
    write_text_atomic(out_dir / "results.csv", _csv(rows))
    summary = summarise(rows, sweep.spec.metric)
    result["summary"] = summary
    fig = sweep_figure(summary, sweep.spec.metric, out_dir / "results.png", sweep.spec.name)
    if fig is None:  # no figure for these points: an earlier invocation's would describe other points
        (out_dir / "results.png").unlink(missing_ok=True)
    result["paths"] = {"json": str(out_dir / "results.json"), "csv": str(out_dir / "results.csv"),
                       "figure": str(fig) if fig else None}
    write_json_atomic(out_dir / "results.json", result)
    return result


def _earlier_invocations(path: Path) -> list[dict[str, Any]]:
    """The ``invocations`` an earlier results.json of this sweep recorded ([] without one, or a damaged one)."""
    if not path.is_file():
        return []
    try:
        old = read_json(path, "sweep results")
    except LazyError:
        return []
    return [x for x in (old.get("invocations") or []) if isinstance(x, dict)] if isinstance(old, dict) else []


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
        if r["status"] in ("failed", "pending"):
            continue
        key = json.dumps([r.get(f"axis:{a}") for a in groups_by])
        g = groups.setdefault(key, {"values": {a: r.get(f"axis:{a}") for a in groups_by}, "runs": []})
        g["runs"].append(r)
    out = []
    for g in groups.values():
        entry = {"values": g["values"], "n": len(g["runs"]), "runs": [r["run"] for r in g["runs"]],
                 **{k: g["runs"][0].get(k) for k in ("protocol", "strategy", "knows", "select", "lr")}}
        for split in ("val", "test_easy", "test_hard", *GROUP_METRICS, *LAST_METRICS):
            vals = [r.get(split) for r in g["runs"]]
            if any(v is None for v in vals):  # points scored before eval stored the group metrics
                entry[split] = entry[f"{split}_std"] = None
                continue
            entry[split] = statistics.fmean(vals)
            entry[f"{split}_std"] = statistics.stdev(vals) if len(vals) > 1 else None
        out.append(entry)
    return {"axes": groups_by, "metric": metric, "groups": out}


def sweep_figure(summary: dict[str, Any], metric: str, path: Path, title: str) -> Optional[Path]:
    """One non-seed axis: the metric against it (mean +- std over seeds); two: a heatmap of the mean. None (no
    figure) for another number of non-seed axes, or when no point succeeded."""
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
