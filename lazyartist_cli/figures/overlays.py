"""Attribution overlays: jet heatmap alpha-blended on the image, and the three-panel figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import save  # importing the package selects the Agg backend
import matplotlib.pyplot as plt
from matplotlib import colormaps

ALPHA = 0.5


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """image (H, W, 3) in [0, 1], heat (H, W) in [0, 1] -> (H, W, 3) jet overlay."""
    jet = colormaps["jet"](heat)[..., :3]
    return np.clip((1 - alpha) * image + alpha * jet, 0, 1)


def three_panel(image: np.ndarray, heat: np.ndarray, title: str, path: Path, method: str = "Grad-CAM") -> Path:
    fig, axes = plt.subplots(1, 3, figsize=(8.4, 3.0))
    axes[0].imshow(image, interpolation="nearest")
    axes[0].set_title("image")
    im = axes[1].imshow(heat, cmap="jet", vmin=0, vmax=1)
    axes[1].set_title(method)
    fig.colorbar(im, ax=axes[1], fraction=0.046)
    axes[2].imshow(overlay(image, heat))
    axes[2].set_title("overlay")
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    return save(fig, path, dpi=100)


def overlay_grid(images: np.ndarray, heats: np.ndarray, titles: list[str], path: Path, cols: int = 8, suptitle: str = "") -> Path:
    """Rows of (image, overlay) pairs."""
    n = len(images)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(2 * rows, cols, figsize=(cols * 1.4, rows * 3.0), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        r, c = divmod(i, cols)
        axes[2 * r, c].imshow(images[i], interpolation="nearest")
        axes[2 * r, c].set_title(titles[i], fontsize=6.5)
        axes[2 * r + 1, c].imshow(overlay(images[i], heats[i]))
    return save(fig, path, dpi=100, suptitle=suptitle)


def comparison(rows: list[tuple[np.ndarray, list[tuple[np.ndarray, str]], str]], path: Path, suptitle: str = "") -> Path:
    """One row per sample: the image, then overlays (each with its caption)."""
    cols = 1 + max(len(r[1]) for r in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(cols * 2.3, len(rows) * 2.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (image, maps, caption) in enumerate(rows):
        axes[i, 0].imshow(image, interpolation="nearest")
        axes[i, 0].set_title(caption, fontsize=8)
        for j, (heat, cap) in enumerate(maps, start=1):
            axes[i, j].imshow(overlay(image, heat))
            axes[i, j].set_title(cap, fontsize=8)
    return save(fig, path, dpi=100, suptitle=suptitle)


def component_grid(images: np.ndarray, masses: dict[str, tuple[np.ndarray, np.ndarray]], shares: dict[str, np.ndarray],
                   path: Path, suptitle: str = "") -> Path:
    """One row per image: the image, then per method its brightness (gray-axis) and colour (chromatic)
    attribution maps side by side on one colour scale (the method's larger map's maximum), titled with
    that image's chromatic share."""
    methods = list(masses)
    n = len(images)
    cols = 1 + 2 * len(methods)
    fig, axes = plt.subplots(n, cols, figsize=(1.25 * cols, 1.35 * n + 0.4), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(images[i], interpolation="nearest")
        axes[i, 0].set_title("image" if i == 0 else "", fontsize=7)
        for j, m in enumerate(methods):
            gray, chroma = masses[m][0][i], masses[m][1][i]
            top = max(float(gray.max()), float(chroma.max()), 1e-12)
            for k, (heat, what) in enumerate(((gray, "brightness"), (chroma, "colour"))):
                ax = axes[i, 1 + 2 * j + k]
                ax.imshow(heat, cmap="magma", vmin=0, vmax=top, interpolation="nearest")
                head = f"{m}\n{what}" if i == 0 else ""
                ax.set_title(head + (f"\nshare {shares[m][i]:.2f}" if k == 1 else ""), fontsize=6)
    for ax in axes.flat:
        ax.axis("off")
    return save(fig, path, dpi=110, suptitle=suptitle)
