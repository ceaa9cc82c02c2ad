"""Helpers shared by pipeline functions: batched prediction, run loading, resolved configs."""

from __future__ import annotations

import datetime as _dt
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import __version__
from ..allocator import allocator_state
from ..checkpoints import load_checkpoint, model_from_checkpoint
from ..errors import LazyError, UsageError
from ..models import INFERENCE_BATCH, eval_mode
from ..runs import run_dir, write_lock
from ..strategies import STRATEGIES


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = INFERENCE_BATCH) -> torch.Tensor:
    """Logits of ``model`` on x (N, 3, H, W), batched, in eval mode and without autograd; restores the mode.
    Under a bf16 autocast the logits are computed in bf16 and returned as fp32."""
    with eval_mode(model), torch.inference_mode():
        return torch.cat([model(x[i : i + batch_size]).float() for i in range(0, x.shape[0], batch_size)])


def loss_and_accuracy(logits: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def environment(device: torch.device) -> dict[str, Any]:
    return {
        "lazy_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device": str(device),
        "allocator": allocator_state(),
        "cuda_device": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


@dataclass
class LoadedRun:
    name: str
    path: Path
    ckpt: dict[str, Any]
    model: nn.Module
    config: dict[str, Any]

    @property
    def input_mode(self) -> str:
        """rgb, colorblind (the oracle: fed recoloured copies) or the legacy grayscale."""
        return str(self.ckpt.get("input", "rgb"))

    def require_rgb(self, analysis: str) -> None:
        """Analyses that work on the RGB images themselves do not apply to the colour-blind oracle."""
        if self.input_mode == "colorblind":
            raise UsageError(f"run {self.name!r} is the colour-blind oracle (its input is rebuilt from the stored "
                             f"digits); `lazy {analysis}` works on RGB inputs and does not apply to it")


ENVIRONMENTS = "environments.json"  # <run>/environments.json: where and with what each analysis of the run last ran


def record_environment(run_path: Path, analysis: str, device: torch.device, seed: int) -> None:
    """Record, under the run's write lock, the environment ``analysis`` just ran in (versions, device, threads,
    allocator, seed); one entry per analysis, replaced when it runs again. Kept apart from the results so that
    results stay byte-identical across reruns (a timestamp and a thread count are not results)."""
    from ..runs import read_json, write_json_atomic

    path = run_path / ENVIRONMENTS
    try:
        known = read_json(path, "environments") if path.is_file() else {}
    except LazyError:
        known = {}  # damaged: start again
    if not isinstance(known, dict):
        known = {}  # valid JSON but not this file's shape: start again
    known = {k: v for k, v in known.items() if k != "schema_version"}
    known[analysis] = {**environment(device), "threads": torch.get_num_threads(), "seed": seed}
    write_json_atomic(path, dict(sorted(known.items())))


def for_each_run(cfg: Any, runs_dir: Path, runs: list[str], fn: Any, reporter: Any, label: str, analysis: str,
                 rgb_only: str = "") -> dict[str, Any]:
    """Seed, pick the device, load every run first (fail early on a missing one, or, for
    an analysis named by ``rgb_only``, on a colour-blind oracle run), then call
    ``fn(run, cache, cfg, reporter)`` per run with one shared split cache, and record the
    environment each run's ``analysis`` ran in (``environments.json``)."""
    from ..seeding import resolve_device, seed_everything
    from .splits import SplitCache

    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    cache = SplitCache(runs_dir, device)
    loaded = [load_run(runs_dir, name, device) for name in runs]
    if rgb_only:
        for run in loaded:
            run.require_rgb(rgb_only)
    reporter.start(label, label, len(loaded))
    out = {}
    for run in loaded:
        with write_lock(runs_dir, "run", run.name):  # the analysis writes into the run
            out[run.name] = fn(run, cache, cfg, reporter)
            record_environment(run.path, analysis, device, cfg.seed)
        reporter.update(label, 1)
    return out


def load_run(runs_dir: Path, name: str, device: torch.device, which: str = "best") -> LoadedRun:
    """A trained run's model from its checkpoint alone."""
    path = run_dir(runs_dir, name)
    if not path.is_dir():
        raise LazyError(f"run {name!r} not found under {runs_dir} (train it with `lazy train --name {name}`)")
    ckpt = load_checkpoint(path / f"{which}.pt")
    strategy = ckpt.get("config", {}).get("train", {}).get("strategy")
    if which == "best" and strategy in STRATEGIES and STRATEGIES[strategy].refits and "refit" not in ckpt.get("best", {}):
        raise LazyError(f"run {name!r} stopped before its {strategy} refit of the chosen checkpoint; finish it with "
                        f"`lazy train --name {name} --resume`")
    model = model_from_checkpoint(ckpt, device)
    return LoadedRun(name, path, ckpt, model, ckpt.get("config", {}))
