"""Checkpoint selection: the rules that choose a run's checkpoint, never from hard data.

``val`` (easy validation accuracy), ``val-recolored`` (validation images recoloured by colour transforms)
``val-worst-group`` (the lowest accuracy over class x {aligned, conflicting}) and ``val-pseudo-group`` (accuracy
averaged over (class, a strategy's bias-proxy prediction), no bias labels) and ``last`` (the final epoch, what
LfF's released code keeps: it reads nothing, so its "score" is the epoch number); the score each rule
reads from an epoch's history row, and the score a finished run's chosen checkpoint had.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch

from ..runs import read_json
from ..strategies.colorops import recolor_views

# The colour transforms of the "val-recolored" selection rule: any hue, and brightness,
# contrast and saturation jitter, composed; drawn once per run from a fixed seed.
SELECTION_OPS = ["hue", "brightness", "contrast", "saturation"]


def selection_view(x_val: torch.Tensor, seed: int) -> torch.Tensor:
    """Validation images recoloured by colour transforms (no hard data), for checkpoint selection."""
    with torch.random.fork_rng(devices=[x_val.device] if x_val.device.type == "cuda" else []):
        torch.manual_seed(seed * 7_919 + 17)
        return torch.cat([recolor_views(x_val[i : i + 4096], SELECTION_OPS, compose=True)
                          for i in range(0, x_val.shape[0], 4096)])


SCORE_OF_RULE = {"val": "val_acc", "val-recolored": "val_recolored_acc", "val-worst-group": "val_worst_group_acc",
                 "val-pseudo-group": "val_pseudo_group_acc", "last": "epoch"}
# rules whose score can rank one method's points (its rates) against each other: not ``last``, which scores nothing
COMPARABLE_RULES = ("val", "val-recolored", "val-worst-group", "val-pseudo-group")


def selection_score(path: Path, epoch: Optional[int]) -> Optional[float]:
    """The score the run's checkpoint rule gave its chosen epoch (read back from history.jsonl): what a
    choice between points of one method (e.g. its learning rate) is made on, never hard data."""
    cfg = read_json(path / "config.json", "run config").get("config", {})
    rule = cfg.get("train", {}).get("select", "val")
    key = SCORE_OF_RULE.get(rule) if rule in COMPARABLE_RULES else None
    hist = path / "history.jsonl"
    if not epoch or key is None or not hist.is_file():
        return None
    rows = [json.loads(line) for line in hist.read_text().splitlines() if line.strip()]
    return next((r.get(key) for r in rows if r.get("epoch") == epoch), None)
