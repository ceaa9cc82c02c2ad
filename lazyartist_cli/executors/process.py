"""``process``: N worker processes on this machine (spawned), each with its share of the cores."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from .base import Executor, collect


def die_with_parent() -> None:
    """Initialiser of a pool's worker processes: end this worker the moment its parent ends.

    A ``ProcessPoolExecutor`` worker whose parent is killed (SIGKILL, an out-of-memory kill, a closed
    terminal's SIGHUP to the parent only) otherwise lives on: it finishes its job, may take one more
    queued job, and holds that run's write lock under a live pid, so the rerun is refused. A daemon
    thread waits on the parent's sentinel and exits this process at once; what it was writing is left
    as after any kill (atomic writes, a stale lock that the next writer takes over)."""
    parent = multiprocessing.parent_process()
    if parent is None:  # not a multiprocessing child (called directly): nothing to watch
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="lazy-die-with-parent", daemon=True).start()


class ProcessExecutor(Executor):
    name = "process"

    def run(self, fn, jobs, reporter):
        with ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=die_with_parent) as pool:
            handles = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
            return collect(handles, jobs, self.workers, lambda hs: wait(hs, return_when=FIRST_COMPLETED)[0],
                           lambda fut: fut.result(), "worker died", reporter)
