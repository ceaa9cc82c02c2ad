"""The malloc tuning of ``lazy`` processes (allocator.py), checked in fresh interpreters."""

import ctypes
import json
import os
import subprocess
import sys

import pytest

GLIBC_MALLINFO2 = sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "mallinfo2")

# mmapped bytes (glibc mallinfo2().hblkhd) while a 16 MB tensor is alive, after tune_allocator() or without it
PROBE = r"""
import ctypes, json, os, sys
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
from lazyartist_cli.allocator import allocator_state, tune_allocator
before = allocator_state()
state = tune_allocator() if sys.argv[1] == "tune" else "not called"
import torch
base = libc.mallinfo2().hblkhd
t = torch.empty(4 * 2**20)  # 16 MiB
held = libc.mallinfo2().hblkhd - base
print(json.dumps({"before": before, "state": state, "again": tune_allocator() if sys.argv[1] == "tune" else None,
                  "mmapped_while_held": held}))
"""


def probe(mode: str, **env: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    return json.loads(out.stdout)


@pytest.mark.skipif(not GLIBC_MALLINFO2, reason="glibc's mallinfo2 is needed to see where a block came from")
def test_tuned_process_serves_a_16mb_tensor_from_the_heap_not_a_fresh_mmap():
    plain = probe("plain")
    assert plain["before"] == "untouched" and plain["mmapped_while_held"] >= 16 * 2**20  # glibc's default: a fresh mmap
    tuned = probe("tune")
    assert tuned["state"] == "tuned" and tuned["again"] == "tuned"
    assert tuned["mmapped_while_held"] == 0


@pytest.mark.skipif(not GLIBC_MALLINFO2, reason="glibc's mallinfo2 is needed to see where a block came from")
def test_lazy_malloc_default_leaves_glibc_alone():
    off = probe("tune", LAZY_MALLOC="default")
    assert off["state"] == "default" and off["mmapped_while_held"] >= 16 * 2**20
