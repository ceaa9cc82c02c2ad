"""The report's Markdown writer: lines, the numbers used with their sources, and the sections' not-run parts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

REPORT_FILE = "REPORT.md"
TIMESTAMP_PREFIX = "Generated "


@dataclass
class Writer:
    """Markdown lines plus the numbers used and where each came from."""

    runs_dir: Path
    out_dir: Path
    lines: list[str] = field(default_factory=list)
    numbers: list[dict[str, Any]] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)

    def h(self, level: int, title: str) -> None:
        if level == 2:
            self.sections.append({"title": title, "not_run": []})
        self.lines += ["", "#" * level + " " + title, ""]

    def p(self, text: str = "") -> None:
        self.lines.append(text)

    def src(self, path: Path) -> str:
        return os.path.relpath(path, self.runs_dir)

    def num(self, key: str, value: float, source: Path, fmt: str = "pct", sources: Optional[list[Path]] = None) -> str:
        """Record a number used and the file it was read from; a mean over several runs also lists every file
        (``sources``; ``source`` is then the first of them)."""
        entry = {"section": self.sections[-1]["title"] if self.sections else "", "key": key, "value": value,
                 "source": self.src(source)}
        if sources and len(sources) > 1:
            entry["sources"] = [self.src(x) for x in sources]
        self.numbers.append(entry)
        if fmt == "pct":
            return f"{100 * value:.1f}%"
        return format(value, fmt)

    def locate(self, stored: Optional[str | Path]) -> Optional[Path]:
        """The file a result's stored path names, found in the runs directory being reported.

        Results store the paths their command wrote, absolute or relative to that command's working
        directory. A runs directory that was moved or copied since (rsync from a cluster, a copy of a
        study) must still show its own figures, not a stale copy elsewhere. So: the stored path itself if
        it is a file inside the runs or the report directory; else the longest tail of it (a run's folder
        and below: two parts at least) that is a file under ``runs_dir``; else the stored path if it is a
        file; else nothing."""
        if not stored:
            return None
        path = Path(stored)
        if path.is_file():
            where = path.resolve()
            if any(where.is_relative_to(d.resolve()) for d in (self.runs_dir, self.out_dir)):
                return path
        parts = path.parts[1:] if path.is_absolute() else path.parts
        for i in range(len(parts) - 1):
            candidate = self.runs_dir / Path(*parts[i:])
            if candidate.is_file():
                return candidate
        return path if path.is_file() else None

    def fig(self, path: Optional[str | Path], alt: str, width: Optional[int] = None) -> None:
        found = self.locate(path)
        if found is None:
            return
        rel = os.path.relpath(found, self.out_dir)
        if self.lines and self.lines[-1]:
            self.p()  # a figure is its own block, not the tail of the paragraph before it
        if width:
            self.p(f'<img src="{rel}" alt="{alt}" width="{width}">')
        else:
            self.p(f"![{alt}]({rel})")
        self.p()

    def not_run(self, what: str, command: str) -> None:
        self.sections[-1]["not_run"].append({"what": what, "command": command})
        self.p(f"*{what}: not run.* Run it with `{command}`.")
        self.p()

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.p("| " + " | ".join(header) + " |")
        self.p("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
        for r in rows:
            self.p("| " + " | ".join(r) + " |")
        self.p()


def _run_figures(w: Writer, runs: list[Any], files: dict[str, Any], what: str, key: str, alt: str) -> None:
    """One stored figure per run, where the run's ``what`` result lists it under ``paths[key]``."""
    for sp in runs:
        res = files[sp.name].get(what)
        if res:
            w.fig(res.get("paths", {}).get(key), f"{alt} {sp.name}", 520)
