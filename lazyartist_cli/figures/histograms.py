"""Distributions of attention scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import save  # importing the package selects the Agg backend
import matplotlib.pyplot as plt

from ..interpret.attention import DIFFUSE, STROKE_FOCUSED


def score_histograms(share: np.ndarray, concentration: np.ndarray, title: str, path: Path) -> Path:
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.hist(share, bins=30, range=(0, 1), color="tab:blue")
    a.axvline(STROKE_FOCUSED, color="k", ls="--", lw=1, label=f"stroke-focused >= {STROKE_FOCUSED}")
    a.set_xlabel("share of map mass on stroke pixels"), a.legend(fontsize=8)
    b.hist(concentration, bins=30, range=(0, 1), color="tab:orange")
    b.axvline(DIFFUSE, color="k", ls="--", lw=1, label=f"diffuse >= {DIFFUSE}")
    b.set_xlabel("fraction of pixels holding 80% of the mass"), b.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return save(fig, path, dpi=100)
