"""Attack figures: success-vs-eps curves and original | perturbation | adversarial panels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import save  # importing the package selects the Agg backend
import matplotlib.pyplot as plt


def success_curves(curves: dict[str, dict[str, list[float]]], eps: list[float], title: str, path: Path, headline: float) -> Path:
    """curves[run][method] = success rates at each eps."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    styles = {"fgsm": "--", "pgd": "-"}
    for run, per_method in curves.items():
        for method, rates in per_method.items():
            ax.plot(eps, rates, styles.get(method, "-"), marker="o", label=f"{run} / {method}")
    ax.axvline(headline, color="gray", lw=1, ls=":", label=f"headline eps = {headline}")
    ax.set_xlabel("eps (L-inf, pixels in [0, 1])")
    ax.set_ylabel("success rate (target with confidence >= threshold)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=10)
    return save(fig, path, dpi=110)


def adversarial_panels(orig: np.ndarray, adv: np.ndarray, captions: list[tuple[str, str]], path: Path, title: str) -> Path:
    """orig, adv (N, H, W, 3) in [0, 1]; captions[i] = (original caption, adversarial caption)."""
    n = len(orig)
    fig, axes = plt.subplots(n, 3, figsize=(6.6, 2.3 * n), squeeze=False)
    for i in range(n):
        delta = np.clip(0.5 + 10 * (adv[i] - orig[i]), 0, 1)
        for ax, img, cap in zip(axes[i], (orig[i], delta, adv[i]), (captions[i][0], "perturbation x10 (0.5 = none)", captions[i][1])):
            ax.imshow(img, interpolation="nearest")
            ax.set_title(cap, fontsize=8)
            ax.axis("off")
    fig.suptitle(title, fontsize=10)
    return save(fig, path, dpi=100)
