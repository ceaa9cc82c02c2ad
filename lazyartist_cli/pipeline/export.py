"""``export``: copy the compact results of a runs directory into a folder meant to be committed.

A results folder has the layout of a runs directory (``docs/layout.md``) but holds only what the report reads:
each run's resolved config, per-epoch history and JSON results, each dataset's metadata and checks, each
sweep's ``results.json`` and the study's step times. No checkpoint, split file, figure or SAE weight is copied,
so a study of three seeds fits in a few megabytes and ``lazy report --results DIR`` rebuilds every table from
it. Every file is copied byte for byte; a run or sweep already in the folder is replaced whole (staged, then
renamed), so an interrupted export leaves each of them as it was or as it is now, never half of each.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from pathlib import Path
from typing import Any, Optional

from ..errors import UsageError
from ..runs import DATASETS_DIR, ensure_dir
from .plan import STUDY_FILE
from .reporter import SILENT, Reporter
from .sweep import SWEEPS_DIR

# What the report and `lazy runs` read, per kind of folder; paths relative to the folder, globs allowed.
RUN_FILES = ("config.json", "history.jsonl", "refit.json", "proxy.json", "eval/metrics.json", "counterfactual/summary.json",
             "gradcam/*/summary.json", "gradcam/color_share.json", "probe/units.json", "attack/summary.json",
             "sae/summary.json")
DATASET_FILES = ("metadata.json", "verify.json")
SWEEP_FILES = ("results.json",)
STUDY_FILES = (STUDY_FILE,)  # under the report's folder: every study step's status and time


def _matching(folder: Path, patterns: tuple[str, ...]) -> list[Path]:
    out: list[Path] = []
    for pattern in patterns:
        out += sorted(p for p in folder.glob(pattern) if p.is_file())
    return out


def _units(runs_dir: Path, report_dir: str) -> list[tuple[str, Path, list[Path]]]:
    """Every folder to export: (its path relative to the runs directory, its path, the files it keeps)."""
    units = []
    for d in sorted(runs_dir.iterdir()) if runs_dir.is_dir() else []:
        if not d.is_dir() or d.name.startswith("."):
            continue
        if d.name == DATASETS_DIR:
            units += [(f"{DATASETS_DIR}/{x.name}", x, _matching(x, DATASET_FILES)) for x in sorted(d.iterdir()) if x.is_dir()]
        elif d.name == SWEEPS_DIR:
            units += [(f"{SWEEPS_DIR}/{x.name}", x, _matching(x, SWEEP_FILES)) for x in sorted(d.iterdir()) if x.is_dir()]
        elif d.name == report_dir:
            units.append((d.name, d, _matching(d, STUDY_FILES)))
        elif (d / "config.json").is_file():
            units.append((d.name, d, _matching(d, RUN_FILES)))
    return [u for u in units if u[2]]


def _replace(staged: Path, final: Path) -> None:
    """Put ``staged`` at ``final``: the old folder is moved aside first and removed last."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(staged, final)
    if old.exists():
        shutil.rmtree(old)


def run_export(runs_dir: Path, dest: Path, only: Optional[list[str]] = None, report_dir: str = "report",
               reporter: Reporter = SILENT) -> dict[str, Any]:
    """Copy the compact results of ``runs_dir`` into ``dest`` (created); ``only``: glob patterns on the folders'
    paths relative to the runs directory (``lazy-cnn-*``, ``sweeps/lffrepro``...). Returns what was copied."""
    runs_dir, dest = Path(runs_dir), Path(dest)
    if not runs_dir.is_dir():
        raise UsageError(f"runs directory {runs_dir} does not exist: there is nothing to export")
    if dest.resolve() == runs_dir.resolve() or runs_dir.resolve() in dest.resolve().parents:
        raise UsageError(f"{dest} is inside the runs directory {runs_dir}: export to a folder outside it (e.g. results/)")
    units = _units(runs_dir, report_dir)
    if only:
        units = [u for u in units if any(fnmatch.fnmatchcase(u[0], pat) for pat in only)]
        if not units:
            raise UsageError(f"no run, dataset, sweep or study in {runs_dir} matches {', '.join(only)}")
    ensure_dir(dest)
    reporter.start("export", f"exporting to {dest}", len(units))
    copied, total = [], 0
    for rel, src, files in units:
        final = dest / rel
        staged = ensure_dir(final.parent) / f".{final.name}.tmp-{os.getpid()}"
        if staged.exists():
            shutil.rmtree(staged)
        for f in files:
            target = staged / f.relative_to(src)
            ensure_dir(target.parent)
            shutil.copyfile(f, target)
            total += f.stat().st_size
        _replace(staged, final)
        copied.append({"folder": rel, "files": [str(f.relative_to(src)) for f in files]})
        reporter.update("export", 1)
    return {"ok": True, "dest": str(dest), "folders": copied, "n_files": sum(len(c["files"]) for c in copied),
            "bytes": total}
