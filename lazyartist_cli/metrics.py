"""Classification metrics on tensors: accuracy, per-class accuracy, confusion matrices."""

from __future__ import annotations

import torch


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """Counts (n_classes, n_classes): rows = true class, columns = predicted class."""
    idx = y_true.long() * n_classes + y_pred.long()
    return torch.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_accuracy(cm: torch.Tensor) -> list[float]:
    """Recall of each class from a confusion matrix (nan for an empty class)."""
    totals = cm.sum(1).double()
    return (cm.diag().double() / totals).tolist()


def normalize_rows(cm: torch.Tensor) -> torch.Tensor:
    return cm.double() / cm.sum(1, keepdim=True).clamp_min(1).double()


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of each row of probabilities."""
    return -(probs * probs.clamp_min(1e-12).log()).sum(1)
