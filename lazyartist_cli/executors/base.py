"""The executor interface and its progress bookkeeping."""

from __future__ import annotations

import os
from typing import Any, Callable, Optional

Job = dict[str, Any]
Row = dict[str, Any]


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Executor:
    name = ""

    def __init__(self, workers: int = 1, address: Optional[str] = None):
        self.workers, self.address = workers, address

    def check(self) -> None:
        """Fail fast (a UsageError or LazyError naming the problem) when this executor cannot run here, before
        the sweep builds or writes anything. Called once by ``run_sweep``; the default has nothing to check."""

    def run(self, fn: Callable[[Job], Row], jobs: list[Job], reporter: Any) -> list[Row]:
        raise NotImplementedError


class Progress:
    """done / running / failed counts of a sweep, shown through the reporter's one task."""

    def __init__(self, reporter: Any, total: int):
        self.reporter, self.total = reporter, total
        self.done = self.failed = self.running = 0
        reporter.start("sweep", self._label(), total)

    def _label(self) -> str:
        return f"sweep: {self.done} done, {self.running} running, {self.failed} failed"

    def started(self, n: int = 1) -> None:
        self.running += n
        self.reporter.update("sweep", 0, description=self._label())

    def finished(self, row: Row) -> None:
        self.running = max(0, self.running - 1)
        if row.get("status") == "failed":
            self.failed += 1
        else:
            self.done += 1
        self.reporter.update("sweep", 1, description=self._label())
        self.reporter.note(f"{row['run']:<48} {row['status']:<9} {row['seconds']:.1f} s"
                           + (f"  {row['error']}" if row.get("error") else ""))


def failed_row(job: Job, error: str) -> Row:
    """The row of a point whose worker or task died before it could write one."""
    return {"run": job["name"], "status": "failed", "error": error[:300], "seconds": 0.0,
            **{f"axis:{k}": v for k, v in job["values"].items()}}


def collect(handles: dict[Any, int], jobs: list[Job], slots: int, wait_some: Callable[[list[Any]], Any],
            result_of: Callable[[Any], Row], died: str, reporter: Any) -> list[Row]:
    """Rows in job order from submitted work (``handles``: future or object ref -> job index), taken as it
    completes; ``slots`` points run at once; a handle whose result raises becomes a failed row."""
    progress = Progress(reporter, len(jobs))
    rows: list[Row] = [{} for _ in jobs]
    running = min(slots, len(jobs))
    progress.started(running)
    queued = len(jobs) - running
    pending = dict(handles)
    while pending:
        for h in wait_some(list(pending)):
            i = pending.pop(h)
            try:
                rows[i] = result_of(h)
            except Exception as exc:  # noqa: BLE001 - a worker that died (killed, out of memory) or a task out of retries
                rows[i] = failed_row(jobs[i], f"{died}: {exc}")
            progress.finished(rows[i])
            if queued:
                queued -= 1
                progress.started()
    return rows
