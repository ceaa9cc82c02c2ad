"""The ``lazy sweep`` results in the report (end of section 5): one subsection per sweep found under runs/sweeps/."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from ..sweep_reference import matches, point_label
from .grid import grid_table, tuning_keys
from .loader import _load
from .suite import LAZY_EASY, LAZY_HARD, _cell, choose_learning_rates, is_suite, suite_groups, suite_section
from .lazymap import map_section
from .writer import Writer


def _sweep_sections(w: Writer, runs_dir: Path) -> None:
    """One subsection per `lazy sweep` found under runs/sweeps/: mean ± std over seeds per combination of the other axes."""
    root = runs_dir / "sweeps"
    found = sorted(root.glob("*/results.json")) if root.is_dir() else []
    for src in found:
        data = _load(src)
        if not data or "summary" not in data:
            continue
        w.h(3, f"Sweep `{data['sweep']}`")
        sweep_tables(w, data, src, figures=True)
        if not data.get("budgets"):
            w.fig(src.parent / "results.png", f"sweep {data['sweep']}", 520)


def sweep_tables(w: Writer, data: dict[str, Any], src: Path, figures: bool = False) -> None:
    """One sweep's text: what ran, its table (mean ± std over seeds per combination of the other axes), the published
    numbers beside it and the rates the rules choose. Also the docs' sweep blocks (``blocks.py``: ``figures`` false,
    a block draws none)."""
    sm = data["summary"]
    failed = [p["run"] for p in data["points"] if p["status"] == "failed"]
    pending = sum(p["status"] == "pending" for p in data["points"])
    how = (" (collected with `--collect` from the runs of earlier invocations: no executor or wall time of their own)"
           if data.get("collected") else f", run with `--executor {data['executor']}` x{data['workers']}, "
           f"{data.get('threads', '?')} thread(s) per point, {data['seconds']:.0f} s")
    skipped = len(data.get("not_chosen") or [])
    notes = ([f"and {pending} not trained yet"] if pending else []) + (
        [f"{skipped} configurations of tuning grids that their rule did not choose at the tuning seeds are not "
         "trained at the other seeds"] if skipped else [])
    w.p(f"{len(data['points']) - pending} points" + (f" ({'; '.join(notes)})" if notes else "")
        + f" from `{data['file']}` (axes: " + ", ".join(f"`{k}` = {v}" for k, v in data["axes"].items())
        + _more_tables(data) + ")" + how
        + (f"; **{len(failed)} failed**: " + ", ".join(f"`{n}`" for n in failed) if failed else "")
        + ("." if data.get("tune") else ". Mean ± sample std over seeds:"))
    w.p()

    def cell(g: dict[str, Any], split: str) -> str:
        if g.get(split) is None:
            return "—"
        sd = g.get(f"{split}_std")
        return f"{100 * g[split]:.1f}" + (f" ± {100 * sd:.1f}" if sd is not None else "") + "%"

    if data.get("budgets"):  # the laziness map: each long run read at every budget (lazymap.py)
        map_section(w, data, src, w.out_dir / "figures" / f"map-{data['sweep']}.png" if figures else None)
        return
    if is_suite(data):
        suite_section(w, data, src)
        return
    if data.get("tune"):  # the benchmark's tables, one row per method (each configuration's points: results.json)
        grid_table(w, data, src)
        if data.get("reference"):
            _reference(w, data, src)
        return
    rows = []
    for g in sm["groups"]:
        label = point_label(g["values"], data.get("labels"))
        w.num(f"sweep.{data['sweep']}.{label}.test_hard", g["test_hard"], src)
        rows.append([label, str(g["n"]), cell(g, "val"), cell(g, "test_easy"), cell(g, "test_hard"),
                     cell(g, "unbiased"), cell(g, "worst_group")])
    w.table(["point", "seeds", "easy val", "easy test", "hard test", "unbiased", "worst group"], rows)
    if data.get("reference"):
        _reference(w, data, src)
    if "train.lr" in data["axes"]:
        _rate_choices(w, data)


def _reference(w: Writer, data: dict[str, Any], src: Path) -> None:
    """The sweep file's published numbers beside the points they are for: ours (mean ± std over seeds), theirs, the
    difference and whether it is within the stated tolerance. A citation to compare with, never a selection."""
    ref = data["reference"]
    tol = ref["tolerance"]
    rows, agree, total = [], 0, 0
    sources = list(dict.fromkeys(rp.get("source") or ref["source"] for rp in ref["points"]))
    metrics = list(dict.fromkeys(rp.get("metric") or ref["metric"] for rp in ref["points"]))
    for g in data["summary"]["groups"]:
        if data.get("tune") and any(g["values"].get(k) is not None for k in tuning_keys(g.get("strategy") or "")):
            continue  # a tuned configuration: the published number is the default's
        for rp in ref["points"]:
            metric = rp.get("metric") or ref["metric"]
            if not matches(g["values"], rp["match"]) or g.get(metric) is None:
                continue
            label = point_label(g["values"], data.get("labels"))
            ours = 100 * g[metric]
            diff = ours - rp["value"]
            ok = abs(diff) <= tol
            agree, total = agree + ok, total + 1
            w.num(f"sweep.{data['sweep']}.{label}.{metric}_minus_published", diff / 100, src)
            sd = g.get(f"{metric}_std")
            row = [label, str(g["n"]), f"{ours:.1f}" + (f" ± {100 * sd:.1f}" if sd is not None else ""),
                   f"{rp['value']:.2f}" + (f" ± {rp['std']:.2f}" if rp.get("std") is not None else ""),
                   f"{diff:+.1f}", "yes" if ok else "**no**"]
            if len(sources) > 1 or len(metrics) > 1:
                row.insert(2, metric)
            if len(sources) > 1:
                row.append(f"[{sources.index(rp.get('source') or ref['source']) + 1}]")
            rows.append(row)
    if not rows:
        return
    cited = (ref["source"] if len(sources) == 1 else "; ".join(f"[{i + 1}] {s}" for i, s in enumerate(sources)))
    w.p(f"Against the published numbers ({cited}; " + ", ".join(f"*{m}*" for m in metrics) + f" accuracy, %): {agree} of "
        f"{total} points within {tol:g} points. The published numbers are a citation from the sweep file, not a run "
        "of this tool:")
    w.p()
    head = ["point", "seeds", f"ours ({metrics[0]})", "published", "difference", f"within {tol:g}"]
    if len(sources) > 1 or len(metrics) > 1:
        head = ["point", "seeds", "column", "ours", "published", "difference", f"within {tol:g}"] + (
            ["source"] if len(sources) > 1 else [])
    w.table(head, rows)


def _rate_choices(w: Writer, data: dict[str, Any]) -> None:
    """A sweep over the learning rate: the rate each configuration's own checkpoint rule chooses (the highest mean rule
    score over seeds; never hard data), and for plain ERM on colour inputs whether it is lazy at that rate."""
    groups = [g for g in choose_learning_rates(suite_groups(data["points"], w.runs_dir, data.get("choose", ["train.lr"])))
              if g["chosen"]]
    if not groups:
        return
    w.p("The learning rate each configuration's own checkpoint rule chooses (the highest mean rule score of its "
        "selected checkpoints over seeds; never hard data):")
    w.p()
    for g in groups:
        v = g["values"]
        ev, hh = statistics.fmean(v["val"]), statistics.fmean(v["test_hard"])
        lazy = ""
        if g["strategy"] == "erm" and g["input"] == "rgb":
            lazy = "; " + ("**lazy**" if ev > LAZY_EASY and hh < LAZY_HARD else "not lazy") + " (easy val > 95%, hard < 20%)"
            blind = next((o for o in groups if o["strategy"] == "erm" and o["input"] == "colorblind"
                          and o["label"] == g["label"].replace("train.input=rgb", "train.input=colorblind")), None)
            if blind is not None:  # the same design shown no colour: how much shape it can read at its own rule's rate
                lazy += f"; the same design's colour-blind reference: hard test {_cell(blind['values']['test_hard'])}"
        name = ", ".join(x for x in (f"`{g['strategy']}`", g["label"]) if x)
        w.p(f"- {name}: lr {g['lr']:g} (of {', '.join(f'{x:g}' for x in g['of'])}) by `{g['select']}`, rule score "
            f"{_cell(v['selection_score'])}: easy val {_cell(v['val'])}, hard test {_cell(v['test_hard'])}{lazy}")
    w.p()


def _more_tables(data: dict[str, Any]) -> str:
    """The file's other sources of points beside its axes (results.json of older sweeps does not record them)."""
    parts = [f"{n} `[[{kind}]]` {'table' if kind == 'grid' else 'point'}{'s' if n > 1 else ''}"
             for kind, n in (("grid", data.get("grids", 0)), ("include", data.get("includes", 0))) if n]
    return "; and " + ", ".join(parts) if parts else ""
