"""What one training run holds in memory and measures after every epoch (split from ``train.py``): the splits as
tensors on the device (``load_data``) and the epoch's scores (``score_epoch``: the checkpoint rule's, never hard
data, and the monitors that are only logged)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from ..config import RunConfig
from ..data.mnist import NUM_CLASSES
from ..data.views import model_inputs
from ..metrics import balanced_group_accuracy, worst_group_accuracy
from .common import loss_and_accuracy, predict
from .data import load_verified_split
from .selection import selection_view


def split_inputs(ds, meta: dict[str, Any], input_mode: str, device) -> tuple[torch.Tensor, torch.Tensor]:
    """A stored split as the model of ``input_mode`` sees it: (x (N, 3, H, W), labels)."""
    x, y = ds.tensors(device)
    palette = torch.tensor(meta["palette"]["rgb"], dtype=torch.float32) / 255.0
    return model_inputs(x, ds.digits, ds.colors, palette, meta["protocol"], input_mode), y


@dataclass
class TrainData:
    """The tensors one run trains and scores on (all on the training device)."""

    x_tr: torch.Tensor
    y_tr: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    groups_val: torch.Tensor  # (N_val,) class * 2 + conflicting: the groups of the worst-group rule
    bias_val: torch.Tensor  # (N_val,) the bias value of every validation image (read by a refit that knows val's groups)
    x_val_rc: torch.Tensor
    x_hard: Optional[torch.Tensor]
    y_hard: Optional[torch.Tensor]
    train_ds: Any
    meta: dict[str, Any]
    proxy_groups_val: Optional[torch.Tensor] = None  # (N_val,) the shared bias proxy's groups (``val-proxy-group``)
    conf_tr: Optional[torch.Tensor] = None  # indices of the bias-conflicting training images (a monitor; never chosen on)


def load_data(cfg: RunConfig, runs_dir: Path, device: torch.device) -> TrainData:
    t = cfg.train
    train_ds, meta = load_verified_split(runs_dir, cfg.dataset_name(), "train")
    val_ds, _ = load_verified_split(runs_dir, cfg.dataset_name(), "val")
    x_tr, y_tr = split_inputs(train_ds, meta, t.input, device)
    x_val, y_val = split_inputs(val_ds, meta, t.input, device)
    x_hard = y_hard = None
    if t.monitor_hard:
        hard_ds, _ = load_verified_split(runs_dir, cfg.dataset_name(), "test_hard")
        x_hard, y_hard = split_inputs(hard_ds, meta, t.input, device)
    # the worst-group rule's groups: class x {aligned, conflicting} (20 groups). The 100 (class, bias value) groups
    # hold ~5 images each among val's conflicting images at correlation 0.95, so their minimum moves by single images
    groups_val = (val_ds.labels * 2 + (val_ds.colors != val_ds.labels).long()).to(device)
    d = TrainData(x_tr, y_tr, x_val, y_val, groups_val, val_ds.colors.to(device), selection_view(x_val, cfg.seed), x_hard,
              y_hard, train_ds, meta)
    if t.monitor_hard:  # logged only: how much of its bias-conflicting training data a run fits (the laziness map)
        d.conf_tr = torch.nonzero((train_ds.colors != train_ds.labels).to(device)).flatten()
    return d


def score_epoch(model: torch.nn.Module, d: TrainData, t: Any, rule: str, strategy: Any = None) -> dict[str, Any]:
    """What is measured after an epoch: the checkpoint's score under ``rule`` (never hard data) and what is logged
    (with a strategy that has a bias proxy, also val accuracy balanced over its pseudo-groups)."""
    n_eval = min(t.train_eval_size, d.x_tr.shape[0])
    # what is only logged is scored on the first monitor_size images; what chooses the checkpoint on all of val
    n_mon = t.monitor_size or None
    n_rc = None if rule == "val-recolored" else n_mon
    tr_loss, tr_acc = loss_and_accuracy(predict(model, d.x_tr[:n_eval], t.eval_batch_size), d.y_tr[:n_eval])
    val_logits = predict(model, d.x_val, t.eval_batch_size)
    val_loss, val_acc = loss_and_accuracy(val_logits, d.y_val)
    val_wg = worst_group_accuracy(val_logits.argmax(1), d.y_val, d.groups_val, NUM_CLASSES * 2)
    val_rc_acc = loss_and_accuracy(predict(model, d.x_val_rc[:n_rc], t.eval_batch_size), d.y_val[:n_rc])[1]
    row: dict[str, Any] = {"train_loss": tr_loss, "train_acc": tr_acc, "val_loss": val_loss, "val_acc": val_acc,
                           "val_recolored_acc": val_rc_acc, "val_worst_group_acc": val_wg}
    pseudo = strategy.pseudo_groups(d.x_val, d.y_val, t.eval_batch_size) if strategy is not None else None
    if pseudo is not None:
        row["val_pseudo_group_acc"] = balanced_group_accuracy(val_logits.argmax(1), d.y_val, pseudo, NUM_CLASSES ** 2)
    if d.proxy_groups_val is not None:
        row["val_proxy_group_acc"] = balanced_group_accuracy(val_logits.argmax(1), d.y_val, d.proxy_groups_val,
                                                             NUM_CLASSES ** 2)
    if d.x_hard is not None:
        row["hard_acc_monitor"] = loss_and_accuracy(predict(model, d.x_hard[:n_mon], t.eval_batch_size), d.y_hard[:n_mon])[1]
    if d.conf_tr is not None and d.conf_tr.numel():
        conf = d.conf_tr[:n_mon]
        row["train_conflicting_acc_monitor"] = loss_and_accuracy(
            predict(model, d.x_tr[conf], t.eval_batch_size), d.y_tr[conf])[1]
    return row
