"""Training precision: fp32, or bf16 autocast (mixed precision) where the hardware runs it natively.

``train.precision = "auto"`` (the default) trains in bf16 autocast on a CPU with
native bf16 (AVX512-BF16 or AMX, as oneDNN reports it) and on a CUDA GPU that
supports bf16, else in fp32; strategies that differentiate through the input
(``Strategy.input_gradients``) always train in fp32, since their penalty is a
small difference of input gradients. Under bf16 the weights, the optimiser and
every loss stay fp32; convolutions and matrix products run in bf16 (autocast),
and on a CPU the model and batches use the channels-last memory format (oneDNN's
fast path). The per-epoch scores that choose the checkpoint use the same
precision; ``lazy eval`` and the analyses run in fp32, except PGD's gradient
steps (``attack.precision``, also "auto"; every success is decided in fp32).

Measured (``python benchmarks/bench_precision.py``): on this project's 2-core
AVX512-BF16 CPU, a bf16 channels-last training epoch of the default network
costs a fraction of an fp32 one; the ratio is printed by the benchmark.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Iterator

import torch

PRECISIONS = ("auto", "fp32", "bf16")


@functools.lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty elsewhere), read once per process
    (every PGD batch asks)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 natively (fast), not emulated: a CUDA GPU with bf16 units, or a CPU
    with AVX512-BF16 or AMX-BF16 (oneDNN also "supports" bf16 on any AVX-512 CPU, by emulation, slower
    than fp32; so the flags are read, not oneDNN's answer)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and _cpu_flags() & {"avx512_bf16", "amx_bf16"})
    return False


def resolve_precision(name: str, device: torch.device, input_gradients: bool = False) -> str:
    """The precision in force: ``fp32`` or ``bf16`` (``auto`` resolved for ``device`` and the strategy)."""
    if name == "auto":
        return "bf16" if native_bf16(device) and not input_gradients else "fp32"
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; known: {', '.join(PRECISIONS)}")
    return name


def memory_format(precision: str, device: torch.device) -> torch.memory_format:
    """channels-last for bf16 on a CPU (oneDNN's fast layout), else the default."""
    return torch.channels_last if precision == "bf16" and device.type == "cpu" else torch.contiguous_format


@contextlib.contextmanager
def autocast(precision: str, device: torch.device) -> Iterator[None]:
    """bf16 autocast on ``device`` when ``precision`` is bf16, else nothing."""
    if precision == "bf16":
        with torch.autocast(device.type, dtype=torch.bfloat16):
            yield
    else:
        yield
