"""``local``: the points one after another in this process (no extra dependency)."""

from __future__ import annotations

from .base import Executor, Progress


class LocalExecutor(Executor):
    name = "local"

    def run(self, fn, jobs, reporter):
        progress = Progress(reporter, len(jobs))
        rows = []
        for job in jobs:
            progress.started()
            rows.append(fn(job))
            progress.finished(rows[-1])
        return rows
