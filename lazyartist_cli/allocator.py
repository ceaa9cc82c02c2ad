"""Keep freed memory inside the process (glibc malloc), so that a tensor of a few MB is not a fresh mmap.

glibc serves an allocation above its mmap threshold (128 KiB at start, raised
only after such a block is freed, at most 32 MiB) with a fresh ``mmap`` and
returns it to the kernel on free; every training or scoring step of a CPU run
then page-faults and zeroes its activations again (a (128, 16, 28, 28) fp32
activation is 6.4 MB). Whether a process is in that state depends on what it
happened to allocate before, so the same loop ran 2-3x slower in one process
than in another on this project's machine (``benchmarks/bench_allocator.py``
measures both). ``tune_allocator`` sets the thresholds once, at the start of
every ``lazy`` process and worker: blocks up to 32 MiB come from the heap, and
up to 256 MiB of freed heap stays mapped for reuse (the price: a process may
hold that much more memory than it uses). Numbers are unchanged (the allocator
does not touch values). Elsewhere than glibc (macOS, musl) it does nothing;
``LAZY_MALLOC=default`` (or ``off``) turns it off. Under a preloaded allocator
(jemalloc, tcmalloc) glibc's ``mallopt`` still answers, so the state reads
"tuned" with no effect.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit)
TRIM_THRESHOLD = 256 * 2**20
OFF = ("default", "off", "0", "no", "false")

_state: str | None = None


def tune_allocator() -> str:
    """Set glibc's mmap and trim thresholds (once per process); the state: "tuned", or "default" where
    they were left alone (not glibc, or ``LAZY_MALLOC=default``)."""
    global _state
    if _state is None:
        _state = _tune()
    return _state


def allocator_state() -> str:
    """What ``tune_allocator`` did in this process ("untouched" before it ran)."""
    return _state or "untouched"


def _tune() -> str:
    if os.environ.get("LAZY_MALLOC", "").strip().lower() in OFF or not sys.platform.startswith("linux"):
        return "default"
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library already loaded (glibc; musl has no such call)
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    except Exception:  # noqa: BLE001 - a speed setting must never stop a command
        return "default"
    return "tuned" if ok else "default"
