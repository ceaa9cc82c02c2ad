"""The malloc tuning of ``lazy`` processes (allocator.py), checked in fresh interpreters."""

import ctypes
import json
import os
import platform
import subprocess
import sys

import pytest

GLIBC = platform.libc_ver()[0] == "glibc" and hasattr(ctypes.CDLL(None), "mallinfo")

# mmapped bytes (glibc mallinfo2().hblkhd) while a 16 MB tensor is alive, after tune_allocator() or without it
PROBE = r"""
import ctypes, json, os, sys
libc = ctypes.CDLL(None)
new = hasattr(libc, "mallinfo2")  # glibc >= 2.33; mallinfo's int fields are enough for 16 MiB
class MallInfo(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t if new else ctypes.c_int) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
info = libc.mallinfo2 if new else libc.mallinfo
info.restype = MallInfo
from lazyartist_cli.allocator import allocator_state, tune_allocator
before = allocator_state()
state = tune_allocator() if sys.argv[1] == "tune" else "not called"
import torch
base = info().hblkhd
t = torch.empty(4 * 2**20)  # 16 MiB
held = info().hblkhd - base
print(json.dumps({"before": before, "state": state, "again": tune_allocator() if sys.argv[1] == "tune" else None,
                  "mmapped_while_held": held}))
"""


def probe(mode: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items()  # glibc's own settings would change the untuned control
             if not k.startswith("MALLOC_") and k not in ("GLIBC_TUNABLES", "LAZY_MALLOC", "LD_PRELOAD")}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                         env={**clean, **env})
    return json.loads(out.stdout)


@pytest.mark.skipif(not GLIBC, reason="glibc's mallinfo is needed to see where a block came from")
def test_tuned_process_serves_a_16mb_tensor_from_the_heap_not_a_fresh_mmap():
    plain = probe("plain")
    assert plain["before"] == "untouched" and plain["mmapped_while_held"] >= 16 * 2**20  # glibc's default: a fresh mmap
    tuned = probe("tune")
    assert tuned["state"] == "tuned" and tuned["again"] == "tuned"
    assert tuned["mmapped_while_held"] == 0


@pytest.mark.skipif(not GLIBC, reason="glibc's mallinfo is needed to see where a block came from")
def test_lazy_malloc_default_leaves_glibc_alone():
    for value in ("default", "off"):
        off = probe("tune", LAZY_MALLOC=value)
        assert off["state"] == "default" and off["mmapped_while_held"] >= 16 * 2**20
