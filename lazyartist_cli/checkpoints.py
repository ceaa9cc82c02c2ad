"""Checkpoints: what they hold, how they are written and read back.

A checkpoint is a plain dict readable with ``torch.load(path, weights_only=True)``:
``format``, ``model_name``, ``model_options`` (every knob of the model), ``num_classes``,
``model`` (state dict), ``input`` (rgb, colorblind for the oracle, or the legacy grayscale), ``optimizer``, ``strategy`` (state dict of the strategy module), ``epoch``,
``metrics``, ``rng`` (torch/CUDA/Python/NumPy states), ``config`` (the resolved
run config) and ``history``. ``model_from_checkpoint`` rebuilds the model
from the checkpoint alone.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from .errors import LazyError, UsageError
from .models import LEGACY_NAMES, build_model
from .runs import torch_load_safe, torch_save_atomic

FORMAT = "lazy-checkpoint/1"


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": list(random.getstate()[1]),
        "python_version": random.getstate()[0],
        "python_gauss": random.getstate()[2],
        "numpy": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate((state["python_version"], tuple(state["python"]), state["python_gauss"]))
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))


def save_checkpoint(path: Path, **fields: Any) -> None:
    torch_save_atomic({"format": FORMAT, **fields}, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load with ``weights_only=True``; a missing or damaged file is one clear error."""
    ckpt = torch_load_safe(path, "checkpoint", "train the run first with `lazy train`")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise LazyError(f"checkpoint {path} is not a lazy checkpoint ({FORMAT})")
    return ckpt


def model_from_checkpoint(ckpt: dict[str, Any], device: torch.device | str = "cpu") -> nn.Module:
    name, options = ckpt["model_name"], ckpt.get("model_options")
    if options is None:  # written before models had options: the design of that time
        name = LEGACY_NAMES.get(name, name)
    try:
        model = build_model(name, num_classes=ckpt.get("num_classes", 10), input=ckpt.get("input", "rgb"), options=options)
    except UsageError as exc:  # the checkpoint, not the user, named it: a damaged or foreign run (exit 1)
        raise LazyError(f"the checkpoint's model cannot be built: {exc}") from None
    try:
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, KeyError) as exc:
        raise LazyError(f"checkpoint weights do not fit model {ckpt.get('model_name')!r}: {str(exc).splitlines()[0]}") from None
    return model.to(device).eval()
