"""Sample grids of a dataset split: one class per column, annotated cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import save  # importing the package selects the Agg backend
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle


def montage(images: torch.Tensor, rows: int, cols: int, pad: int = 2) -> np.ndarray:
    """(rows*cols, 3, H, W) uint8 -> one (rows*(H+pad), cols*(W+pad), 3) image, row-major."""
    n, c, h, w = images.shape
    canvas = torch.full((rows, cols, c, h + pad, w + pad), 255, dtype=torch.uint8)
    flat = canvas.view(rows * cols, c, h + pad, w + pad)
    flat[:n, :, :h, :w] = images
    return canvas.permute(0, 3, 1, 4, 2).reshape(rows * (h + pad), cols * (w + pad), c).numpy()


def sample_grid(
    split: dict[str, torch.Tensor],
    palette_names: list[str],
    title: str,
    path: Path,
    per_class: int = 10,
) -> Path:
    """Save a (per_class x 10) grid: column k holds the first examples of class k.

    Each cell is annotated "label/colour"; counter-examples (colour is not the
    class's dominant colour) get a white frame and an "x" mark.
    """
    labels, colors = split["labels"], split["colors"]
    n_classes = len(palette_names)
    cells, marks, notes = [], [], []
    for r in range(per_class):
        for k in range(n_classes):
            idx = torch.nonzero(labels == k).flatten()
            if r < len(idx):
                i = int(idx[r])
                cells.append(split["images"][i])
                marks.append(int(colors[i]) != k)
                notes.append(f"{k}/{palette_names[int(colors[i])]}")
            else:
                cells.append(torch.zeros_like(split["images"][0]))
                marks.append(False)
                notes.append("")
    cell = split["images"].shape[-1] + 2
    img = montage(torch.stack(cells), per_class, n_classes)
    fig, ax = plt.subplots(figsize=(n_classes * 1.1, per_class * 1.15))
    ax.imshow(img, interpolation="nearest")
    for j, (mark, note) in enumerate(zip(marks, notes)):
        r, k = divmod(j, n_classes)
        x0, y0 = k * cell, r * cell
        ax.text(x0 + 1, y0 + cell - 2.5, note, fontsize=5.5, color="white", va="bottom")
        if mark:
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), cell - 2, cell - 2, fill=False, ec="white", lw=1.4, ls="--"))
            ax.text(x0 + cell - 4, y0 + 1, "x", fontsize=7, color="white", va="top", ha="right", weight="bold")
    ax.set_xticks([k * cell + cell / 2 - 1 for k in range(n_classes)], [str(k) for k in range(n_classes)])
    ax.set_yticks([])
    ax.set_xlabel("class (cells: label/bias value; dashed frame and x = counter-example)")
    ax.set_title(title)
    return save(fig, path, dpi=110)
