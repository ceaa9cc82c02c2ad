"""Counterfactual recolouring: same stroke, another class's dominant colour.

For each image and each other class c, the stroke (foreground protocol) or
background (background protocol) is recoloured to palette[c] with
``data.colorize.recolor``; if the prediction moves to c, the model followed
the colour; if it stays at the true label, it followed the shape.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.colorize import RECOLORABLE, recolor
from ..models import INFERENCE_BATCH, eval_mode


@torch.no_grad()
def recolor_all(
    images: torch.Tensor, digits: torch.Tensor, colors: torch.Tensor, palette: torch.Tensor, protocol: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every image recoloured to every other palette colour.

    images (N, 3, H, W) float; digits (N, H, W) uint8; colors (N,); palette (K, 3).
    Returns (recoloured (N*(K-1), 3, H, W), source row (N*(K-1),), new colour (N*(K-1),)).
    """
    n, k = images.shape[0], palette.shape[0]
    new = torch.arange(k, device=images.device).repeat(n, 1)  # (N, K)
    keep = new != colors[:, None]
    src = torch.arange(n, device=images.device)[:, None].expand(n, k)[keep]
    new_c = new[keep]
    out = recolor(images[src], digits[src], palette[colors[src]], palette[new_c], protocol)
    return out, src, new_c


@torch.no_grad()
def every_colour(images: torch.Tensor, digits: torch.Tensor, colors: torch.Tensor, palette: torch.Tensor,
                 protocol: str) -> torch.Tensor:
    """The fully crossed grid: each image in every palette colour (its own colour kept as is), (N, K, 3, H, W).
    Colour protocols only: elsewhere (decoy, texture) an analysis built on it is not applicable."""
    if protocol not in RECOLORABLE:
        from ..errors import UsageError

        raise UsageError(f"not applicable: this analysis recolours images, and the {protocol!r} protocol's shortcut is "
                         f"not colour (colour protocols: {', '.join(RECOLORABLE)})")
    recol, src, new_c = recolor_all(images, digits, colors, palette, protocol)
    n, k = images.shape[0], palette.shape[0]
    grid = torch.empty(n, k, *images.shape[1:], device=images.device, dtype=images.dtype)
    grid[torch.arange(n, device=images.device), colors] = images
    grid[src, new_c] = recol
    return grid


@torch.no_grad()
def counterfactual_predictions(model: nn.Module, x: torch.Tensor, batch_size: int = INFERENCE_BATCH) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted class, confidence) of each image."""
    preds, confs = [], []
    with eval_mode(model):
        for i in range(0, x.shape[0], batch_size):
            p = F.softmax(model(x[i : i + batch_size]), 1)
            c, k = p.max(1)
            preds.append(k)
            confs.append(c)
    return torch.cat(preds), torch.cat(confs)
