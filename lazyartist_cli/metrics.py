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


def _present_group_accuracies(pred: torch.Tensor, y: torch.Tensor, groups: torch.Tensor, n_groups: int) -> torch.Tensor:
    correct = torch.zeros(n_groups, dtype=torch.float64, device=y.device).index_add_(0, groups, (pred == y).double())
    count = torch.bincount(groups, minlength=n_groups).double()
    present = count > 0
    return correct[present] / count[present]


def worst_group_accuracy(pred: torch.Tensor, y: torch.Tensor, groups: torch.Tensor, n_groups: int) -> float:
    """The lowest accuracy over the groups present (groups: (N,) ids in 0..n_groups-1)."""
    acc = _present_group_accuracies(pred, y, groups, n_groups)
    return float(acc.min()) if acc.numel() else float("nan")


def balanced_group_accuracy(pred: torch.Tensor, y: torch.Tensor, groups: torch.Tensor, n_groups: int) -> float:
    """The mean accuracy over the groups present (groups: (N,) ids in 0..n_groups-1)."""
    acc = _present_group_accuracies(pred, y, groups, n_groups)
    return float(acc.mean()) if acc.numel() else float("nan")


def group_accuracies(pred: torch.Tensor, y: torch.Tensor, bias: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """(n_classes, n_classes) accuracy of each (class, bias value) group; nan where a group is empty."""
    groups = y.long() * n_classes + bias.long()
    correct = torch.bincount(groups, weights=(pred == y).double(), minlength=n_classes * n_classes)
    count = torch.bincount(groups, minlength=n_classes * n_classes).double()
    acc = torch.where(count > 0, correct / count.clamp_min(1), torch.full_like(count, float("nan")))
    return acc.reshape(n_classes, n_classes)


def shortcut_metrics(easy: tuple[torch.Tensor, torch.Tensor, torch.Tensor], hard: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                     n_classes: int = 10) -> dict[str, float]:
    """The field's standard scores from (pred, label, bias value) of test_easy and test_hard:

    * ``aligned``: accuracy on the bias-aligned images of test_easy (bias value = class);
    * ``bias_conflicting``: accuracy on test_hard (every image bias-conflicting);
    * ``unbiased``: the mean accuracy of the n_classes^2 (class, bias value) groups, the aligned groups
      from test_easy and the conflicting ones from test_hard: the expected accuracy on a test set whose
      bias value is independent of the class and uniform (LfF's "unbiased" accuracy, Nam et al. 2020);
    * ``worst_group``: the lowest of those group accuracies.
    """
    pe, ye, be = easy
    ph, yh, bh = hard
    aligned = be == ye
    ga = group_accuracies(pe[aligned], ye[aligned], be[aligned], n_classes)
    gh = group_accuracies(ph, yh, bh, n_classes)
    eye = torch.eye(n_classes, dtype=torch.bool)
    groups = torch.where(eye, ga, gh)  # diagonal: aligned groups; off-diagonal: conflicting groups
    present = ~torch.isnan(groups)
    return {
        "aligned": (pe[aligned] == ye[aligned]).double().mean().item(),
        "bias_conflicting": (ph == yh).double().mean().item(),
        "unbiased": groups[present].mean().item(),
        "worst_group": groups[present].min().item(),
        "groups_scored": int(present.sum()),
    }
