"""Training curves: loss and accuracy per epoch, train vs val, best epoch marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import save  # importing the package selects the Agg backend
import matplotlib.pyplot as plt


def plot_curves(history: list[dict[str, Any]], best_epoch: int, title: str, path: Path) -> Path:
    ep = [r["epoch"] for r in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    a.plot(ep, [r["train_loss"] for r in history], "o-", label="train (CE)")
    a.plot(ep, [r["val_loss"] for r in history], "s-", label="val (CE)")
    a.plot(ep, [r["train_objective"] for r in history], ":", label="training objective")
    a.set_xlabel("epoch"), a.set_ylabel("loss"), a.set_title("loss")
    b.plot(ep, [r["train_acc"] for r in history], "o-", label="train (easy)")
    b.plot(ep, [r["val_acc"] for r in history], "s-", label="val (easy)")
    if history and "hard_acc_monitor" in history[0]:
        b.plot(ep, [r["hard_acc_monitor"] for r in history], "^--", label="test_hard (monitor only)")
    b.set_ylim(0, 1.02), b.set_xlabel("epoch"), b.set_ylabel("accuracy"), b.set_title("accuracy")
    for ax in (a, b):
        ax.axvline(best_epoch, color="gray", ls="--", lw=1, label=f"best epoch ({best_epoch})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return save(fig, path, dpi=100)
