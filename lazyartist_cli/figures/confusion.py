"""Confusion-matrix heatmap: row-normalised percentages and counts, diagonal framed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import save  # importing the package selects the Agg backend
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle


def plot_confusion(counts: np.ndarray, title: str, path: Path, class_names: list[str] | None = None) -> Path:
    k = counts.shape[0]
    norm = counts / np.clip(counts.sum(1, keepdims=True), 1, None)
    fig, ax = plt.subplots(figsize=(7.2, 6.2))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            color = "white" if norm[i, j] > 0.6 else "black"
            ax.text(j, i, f"{100 * norm[i, j]:.0f}%\n{int(counts[i, j])}", ha="center", va="center", fontsize=6.5, color=color)
        ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, ec="crimson", lw=1.6))
    names = class_names or [str(i) for i in range(k)]
    ax.set_xticks(range(k), names, fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of the true class")
    return save(fig, path, dpi=110)


def image_panel(images: np.ndarray, titles: list[str], path: Path, cols: int = 8, suptitle: str = "") -> Path:
    """A grid of images (N, H, W, 3) in [0, 1] with a title above each.

    Drawn as one mosaic image with one text per cell, not one subplot per image: laying out
    hundreds of subplots (an SAE's 32 features x 16 top images) took seconds per figure."""
    n = len(images)
    rows = max(1, (n + cols - 1) // cols)
    h, w = (images.shape[1], images.shape[2]) if n else (28, 28)
    pad = max(1, w // 8)
    head = max(6, int(round(0.3 * h)))  # room for the title above each image, in image pixels
    cell_h, cell_w = head + h + pad, w + pad
    canvas = np.ones((rows * cell_h, cols * cell_w, 3))
    for i in range(n):
        r, c = divmod(i, cols)
        y0, x0 = r * cell_h + head, c * cell_w + pad // 2
        canvas[y0 : y0 + h, x0 : x0 + w] = images[i]
    width = cols * 1.55
    fig, ax = plt.subplots(figsize=(width, width * canvas.shape[0] / canvas.shape[1] + (0.35 if suptitle else 0.0)))
    ax.imshow(canvas, interpolation="nearest")
    ax.axis("off")
    for i, t in enumerate(titles[:n]):
        r, c = divmod(i, cols)
        ax.text(c * cell_w + pad // 2 + w / 2, r * cell_h + head - 0.5, t, ha="center", va="bottom", fontsize=7)
    return save(fig, path, dpi=110, suptitle=suptitle)
