"""``process``: N worker processes on this machine (spawned), each with its share of the cores."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from .base import Executor, collect


class ProcessExecutor(Executor):
    name = "process"

    def run(self, fn, jobs, reporter):
        with ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            handles = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
            return collect(handles, jobs, self.workers, lambda hs: wait(hs, return_when=FIRST_COMPLETED)[0],
                           lambda fut: fut.result(), "worker died", reporter)
