"""The ``lazy sweep`` results in the report (end of section 5): one subsection per sweep found under runs/sweeps/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .loader import _load
from .suite import is_suite, suite_section
from .writer import Writer


def _sweep_sections(w: Writer, runs_dir: Path) -> None:
    """One subsection per `lazy sweep` found under runs/sweeps/: mean ± std over seeds per combination of the other axes."""
    root = runs_dir / "sweeps"
    found = sorted(root.glob("*/results.json")) if root.is_dir() else []
    for src in found:
        data = _load(src)
        if not data or "summary" not in data:
            continue
        sm = data["summary"]
        w.h(3, f"Sweep `{data['sweep']}`")
        failed = [p["run"] for p in data["points"] if p["status"] == "failed"]
        w.p(f"{len(data['points'])} points from `{data['file']}` (axes: "
            + ", ".join(f"`{k}` = {v}" for k, v in data["axes"].items()) + f"), run with `--executor {data['executor']}` "
            f"x{data['workers']}, {data.get('threads', '?')} thread(s) per point, {data['seconds']:.0f} s"
            + (f"; **{len(failed)} failed**: " + ", ".join(f"`{n}`" for n in failed) if failed else "") + ". Mean ± sample std over seeds:")
        w.p()

        def cell(g: dict[str, Any], split: str) -> str:
            if g.get(split) is None:
                return "—"
            sd = g.get(f"{split}_std")
            return f"{100 * g[split]:.1f}" + (f" ± {100 * sd:.1f}" if sd is not None else "") + "%"

        if is_suite(data):
            suite_section(w, data, src)
            w.fig(src.parent / "results.png", f"sweep {data['sweep']}", 520)
            continue
        rows = []
        for g in sm["groups"]:
            label = ", ".join(f"{k}={v}" for k, v in g["values"].items()) or "all"
            w.num(f"sweep.{data['sweep']}.{label}.test_hard", g["test_hard"], src)
            rows.append([label, str(g["n"]), cell(g, "val"), cell(g, "test_easy"), cell(g, "test_hard"),
                         cell(g, "unbiased"), cell(g, "worst_group")])
        w.table(["point", "seeds", "easy val", "easy test", "hard test", "unbiased", "worst group"], rows)
        w.fig(src.parent / "results.png", f"sweep {data['sweep']}", 520)
