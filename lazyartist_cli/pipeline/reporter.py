"""The progress callback pipeline functions report through (the CLI renders it with Rich)."""

from __future__ import annotations

from typing import Optional


class Reporter:
    """No-op base: pipelines call these; the CLI overrides them to draw progress bars."""

    def start(self, key: str, description: str, total: Optional[float] = None) -> None:
        pass

    def update(self, key: str, advance: float = 1, completed: Optional[float] = None, **fields: object) -> None:
        pass

    def done(self, key: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass


SILENT = Reporter()
