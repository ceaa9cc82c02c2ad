"""SAE metrics, feature labels from top-activating images, and interventions.

Feature labels from the top-k activating images of each live feature, over the
fully crossed grid (every digit of a sample in every palette colour, so colour and
digit are independent and every pair is equally frequent):
colour purity = share of the most common colour, digit purity = share of the
most common label. ``colour`` when colour purity >= PURE and digit purity
< PURE, ``shape`` when the reverse, ``polysemantic`` when both are >= PURE
(one colour and one digit: the shortcut pair), ``unclear`` when neither.
PURE = 0.6.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn as nn

from .model import SparseAutoencoder

PURE = 0.6
FEATURE_LABELS = ("colour", "shape", "polysemantic", "unclear")


@torch.no_grad()
def sae_metric_cis(sae: SparseAutoencoder, acts: torch.Tensor, n_boot: int = 500, seed: int = 0) -> dict[str, list[float]]:
    """Bootstrap 95% CIs over the held-out images of explained variance and L0, all resamples at once. The dead
    fraction gets none: a resample holds about 63% distinct images, so "never fires" is biased upward in it
    (the point estimate would fall outside its own interval)."""
    x_hat, z = sae(acts)
    n = acts.shape[0]
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, n, (n_boot, n), generator=gen)
    weights = torch.zeros(n_boot, n).scatter_add_(1, idx, torch.ones(n_boot, n))  # how often each image is drawn
    err = (x_hat - acts).pow(2).sum(1).cpu()  # (n,)
    mean = (weights @ acts.cpu()) / n  # (B, d) resample means
    sq = (weights @ acts.cpu().pow(2)) / n
    var = (sq - mean.pow(2)).sum(1)  # total variance per resample
    ev = 1 - (weights @ err) / n / var.clamp_min(1e-12)
    l0 = (weights @ (z > 0).float().sum(1).cpu()) / n

    def ci(v: torch.Tensor) -> list[float]:
        return torch.quantile(v.double(), torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()

    return {"explained_variance": ci(ev), "l0": ci(l0)}


@torch.no_grad()
def sae_metrics(sae: SparseAutoencoder, acts: torch.Tensor) -> dict[str, float]:
    x_hat, z = sae(acts)
    mse = (x_hat - acts).pow(2).mean()
    var = acts.var(0, unbiased=False).sum() / acts.shape[1]
    return {
        "mse": mse.item(),
        "explained_variance": (1 - mse / var.clamp_min(1e-12)).item(),
        "l0": (z > 0).float().sum(1).mean().item(),
        "dead_fraction": ((z > 0).sum(0) == 0).float().mean().item(),
    }


def purity(values: torch.Tensor, n_classes: int = 10) -> tuple[float, int]:
    counts = torch.bincount(values, minlength=n_classes)
    return (counts.max().item() / max(values.numel(), 1)), int(counts.argmax())


def label_feature(colour_purity: float, digit_purity: float) -> str:
    c, d = colour_purity >= PURE, digit_purity >= PURE
    return "polysemantic" if c and d else "colour" if c else "shape" if d else "unclear"


@contextmanager
def replace_layer_output(model: nn.Module, layer: nn.Module, sae: SparseAutoencoder, scale: dict[int, float] | None = None,
                         error_term: bool = True) -> Iterator[None]:
    """Within the block, the layer's output h (B, ...) is replaced by the SAE
    reconstruction with features scaled (z_i *= factor), plus the reconstruction
    error when ``error_term``. Written as h + (dec(z_scaled) - dec(z)), so factor
    1 reproduces h bit for bit; without the error term it is dec(z_scaled)."""

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        h = output.flatten(1)
        z = sae.encode(h)
        z_scaled = z.clone()
        for i, f in (scale or {}).items():
            z_scaled[:, i] = z_scaled[:, i] * f
        if not error_term:
            return sae.decode(z_scaled).view_as(output)
        if not scale or all(f == 1 for f in scale.values()):
            return output
        return (h + (sae.decode(z_scaled) - sae.decode(z))).view_as(output)

    handle = layer.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
