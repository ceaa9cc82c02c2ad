"""Measure a stored dataset against what it claims: correlation, colours, balance.

Tolerances (documented in the README):
* aligned fraction of train/val/test_easy: a dataset built by exact
  assignment (the default) holds exactly round(target x n_k) aligned images in
  every class k (the split within half an image per class of the target); one
  built by Bernoulli draws (``data.assignment = "bernoulli"``, the datasets of
  earlier versions) within 4 binomial standard deviations of the target (plus
  0.001), overall and per class; test_hard exactly 0;
* counter-example colours: a chi-square test of the 9 "other colour" offsets
  against uniform, failing above 26.12 (p < 0.001 with 8 degrees of freedom);
* label balance: every class between 5% and 15% of its split.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .colorize import aligned_count

CHI2_CRIT_DF8 = 26.12  # 0.999 quantile of chi-square with 8 degrees of freedom
SIGMAS = 4.0


def binomial_tolerance(p: float, n: int) -> float:
    return SIGMAS * math.sqrt(max(p * (1 - p), 0.0) / max(n, 1)) + 1e-3


def split_stats(split: dict[str, torch.Tensor], target: float, n_classes: int = 10, exact: bool = False,
                balanced: bool = False, slack: int = 0) -> dict[str, Any]:
    """Statistics and checks of one split; ``target`` is the expected aligned fraction.
    ``exact``: the split was built by exact assignment, so each class must hold exactly
    ``aligned_count(target, n_k)`` aligned images (else: within a binomial tolerance). ``balanced`` (with
    exact): each class's conflicting images were spread evenly over the other colours, so its off-diagonal
    counts must differ by at most one image; that replaces the chi-square test of uniform offsets (the
    spread is deterministic, not a draw). ``slack``: images a class's aligned count may be off by (LfF's own
    cumulative rounding, ``lff-order``: 1)."""
    labels, colors = split["labels"], split["colors"]
    aligned = colors == labels
    n = int(labels.shape[0])
    frac = aligned.float().mean().item() if n else 0.0
    checks: dict[str, bool] = {}
    if target == 0.0:
        checks["aligned_fraction"] = frac == 0.0
    elif exact:  # per-class rounding moves the whole split by at most half an image per class
        checks["aligned_fraction"] = abs(frac - target) <= (0.5 + slack) * n_classes / max(n, 1)
    else:
        checks["aligned_fraction"] = abs(frac - target) <= binomial_tolerance(target, n)
    per_class = {}
    class_ok = True
    counts = torch.bincount(labels, minlength=n_classes)
    for k in range(n_classes):
        mask = labels == k
        nk = int(mask.sum())
        fk = aligned[mask].float().mean().item() if nk else 0.0
        if target == 0.0:
            okk = fk == 0.0
        elif exact:
            okk = abs(int(aligned[mask].sum()) - aligned_count(target, nk)) <= slack
        else:
            okk = abs(fk - target) <= binomial_tolerance(target, nk)
        class_ok &= okk
        per_class[str(k)] = {"n": nk, "aligned_fraction": round(fk, 6), "ok": okk}
    checks["per_class_aligned"] = class_ok
    # counter-example colours: offset (colour - label) mod 10 should be uniform over 1..9
    offsets = ((colors[~aligned] - labels[~aligned]) % n_classes)
    offset_counts = torch.bincount(offsets, minlength=n_classes)[1:].double()
    n_conf = int(offset_counts.sum())
    if balanced and target > 0.0:
        table = torch.zeros(n_classes, n_classes, dtype=torch.long).index_put_(
            (labels, colors), torch.ones_like(labels), accumulate=True)  # (class, colour) counts
        off = table[~torch.eye(n_classes, dtype=torch.bool)].view(n_classes, n_classes - 1)
        checks["counter_colors_even"] = bool(((off.max(1).values - off.min(1).values) <= 1).all())
        chi2 = float("nan")
    elif n_conf >= 9 * 5:  # chi-square needs expected counts of at least 5
        expected = n_conf / (n_classes - 1)
        chi2 = float(((offset_counts - expected) ** 2 / expected).sum())
        checks["counter_colors_uniform"] = chi2 <= CHI2_CRIT_DF8
    else:
        chi2 = float("nan")
    other_color_counts = torch.bincount(colors[~aligned], minlength=n_classes)
    shares = counts.double() / max(n, 1)
    # each class 10% +- 5 points, or within the binomial tolerance of a small split (10 val images: any draw passes)
    band = max(0.05, binomial_tolerance(1.0 / n_classes, n))
    checks["label_balance"] = bool(((shares - 1.0 / n_classes).abs() <= band + 1e-9).all())
    return {
        "n": n,
        "aligned_fraction": round(frac, 6),
        "target": target,
        "tolerance": 0.0 if target == 0.0 else round((0.5 + slack) * n_classes / max(n, 1) if exact else binomial_tolerance(target, n), 6),
        "assignment": ("balanced" if balanced else "exact") if exact else "bernoulli",
        "per_class": per_class,
        "label_counts": counts.tolist(),
        "counter_examples": n_conf,
        "counter_color_counts": other_color_counts.tolist(),
        "counter_offset_chi2": None if math.isnan(chi2) else round(chi2, 3),
        "checks": checks,
        "ok": all(checks.values()),
    }
