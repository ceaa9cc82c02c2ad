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


def bootstrap_ci(values: torch.Tensor, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high): the mean of per-image ``values`` and its percentile bootstrap CI
    (``n_boot`` resamples of the images with replacement, one seeded generator, all at once)."""
    v = values.detach().double().flatten().cpu()
    if v.numel() == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, v.numel(), (n_boot, v.numel()), generator=gen)
    means = v[idx].mean(1)
    alpha = (1 - level) / 2
    lo, hi = torch.quantile(means, torch.tensor([alpha, 1 - alpha], dtype=torch.float64)).tolist()
    return v.mean().item(), lo, hi


def intervals_overlap(a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    """Whether two (mean, low, high) intervals share a point."""
    return a[1] <= b[2] and b[1] <= a[2]
