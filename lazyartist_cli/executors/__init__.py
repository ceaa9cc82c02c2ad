"""Executors for `lazy sweep`: where the points of a sweep run.

``Executor(workers, address).run(fn, jobs, reporter) -> rows`` calls ``fn(job)`` for every job and
returns the rows in job order; ``fn`` never raises (a failed point is a row with status ``failed``).
Progress (done / running / failed) goes to the reporter. One module per executor, registered here.
"""

from .base import Executor
from .local import LocalExecutor
from .process import ProcessExecutor
from .ray_tasks import RayExecutor

EXECUTORS: dict[str, type[Executor]] = {}


def _register(cls: type[Executor]) -> None:
    if cls.name in EXECUTORS:
        raise ValueError(f"executor {cls.name!r} is registered twice")
    EXECUTORS[cls.name] = cls


for _cls in (LocalExecutor, ProcessExecutor, RayExecutor):
    _register(_cls)
