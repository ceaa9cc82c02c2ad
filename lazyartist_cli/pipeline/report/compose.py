"""``run_report``: load what the runs stored, write each section in order, save the Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ...config import RunConfig
from ...runs import write_text_atomic
from ..reporter import SILENT, Reporter
from .adversarial import write_adversarial
from .baseline import write_baseline
from .dataset import write_dataset
from .discussion import write_discussion
from .learned import write_learned
from .loader import ReportContext, load_context
from .robust import write_robust_training
from .saes import write_saes
from .summary import write_summary
from .writer import REPORT_FILE

# The report's sections in order; each writes its part of ``ctx.w`` (one progress step each).
SECTIONS: tuple[Callable[[ReportContext], None], ...] = (
    write_summary, write_dataset, write_baseline, write_learned, write_robust_training, write_adversarial, write_saes,
    write_discussion)


def run_report(cfg: RunConfig, runs_dir: Path, reporter: Reporter = SILENT, out_dir: Path | None = None) -> dict[str, Any]:
    """The report of what ``runs_dir`` stored, written to ``out_dir`` (default: the runs directory's report folder;
    another one when the runs are a committed results folder that must stay as it is)."""
    ctx = load_context(cfg, runs_dir, out_dir)
    reporter.start("report", "writing report", len(SECTIONS))
    for section in SECTIONS:
        section(ctx)
        reporter.update("report", 1)
    w = ctx.w
    path = w.out_dir / REPORT_FILE
    write_text_atomic(path, "\n".join(w.lines).rstrip() + "\n")
    return {"ok": True, "path": str(path), "sections": w.sections, "numbers": w.numbers,
            "sources": sorted({n["source"] for n in w.numbers})}
