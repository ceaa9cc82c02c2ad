"""Timing helper shared by the benchmark scripts (run as ``python benchmarks/<name>.py``)."""

import time


def timed(fn, repeats: int):
    """(last result, list of wall times) of ``repeats`` calls of ``fn`` after one warm-up call.
    Each mode of a benchmark is timed in its own run of calls, so neither pays for the other's
    cache and thread-pool state."""
    out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, times
