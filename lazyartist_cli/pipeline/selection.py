"""Checkpoint selection: the rules that choose a run's checkpoint, never from hard data.

``val`` (easy validation accuracy), ``val-recolored`` (validation images recoloured by colour transforms)
``val-worst-group`` (the lowest accuracy over class x {aligned, conflicting}) and ``val-pseudo-group`` (accuracy
averaged over (class, a strategy's bias-proxy prediction), no bias labels), ``val-proxy-group`` (the same
average over the groups of one bias proxy shared by every run at a seed: ``bias_proxy.py``) and ``last`` (the final epoch, what
LfF's released code keeps: it reads nothing, so its "score" is the epoch number); the score each rule
reads from an epoch's history row, the score a finished run's chosen checkpoint had, and the replay of a rule
over a stored history (what a shorter budget would have kept: ``scripts/epoch_budget.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Optional

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
                 "val-pseudo-group": "val_pseudo_group_acc", "val-proxy-group": "val_proxy_group_acc", "last": "epoch"}
# rules whose score can rank one method's points (its rates) against each other: not ``last``, which scores nothing
COMPARABLE_RULES = ("val", "val-recolored", "val-worst-group", "val-pseudo-group", "val-proxy-group")


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


def replay_choice(history: list[dict[str, Any]], rule: str,
                  selectable: Callable[[int], bool] = lambda epoch: True) -> Optional[dict[str, Any]]:
    """The history row training keeps under ``rule``: among the epochs ``selectable`` allows, the highest rule score,
    a tie going to the higher easy val accuracy, and a full tie to the earlier epoch (training replaces its checkpoint
    only on a strictly higher pair). None when no epoch is selectable. A selectable row without the rule's score
    (or without ``val_acc``) is a ``ValueError`` naming the epoch and the key: the choice cannot be replayed."""
    if rule not in SCORE_OF_RULE:
        raise ValueError(f"unknown checkpoint rule {rule!r}; valid: {', '.join(SCORE_OF_RULE)}")
    key = SCORE_OF_RULE[rule]
    best, best_pair = None, (-1.0, -1.0)  # what training starts from
    for row in history:
        if not selectable(int(row["epoch"])):
            continue
        missing = [k for k in (key, "val_acc") if row.get(k) is None]
        if missing:
            raise ValueError(f"epoch {row['epoch']} of the history has no {missing[0]} (rule {rule}): its choice "
                             "cannot be replayed")
        pair = (row[key], row["val_acc"])
        if pair > best_pair:
            best, best_pair = row, pair
    return best
