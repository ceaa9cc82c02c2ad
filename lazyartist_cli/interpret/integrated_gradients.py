"""Integrated Gradients (Sundararajan et al., ICML 2017), batched over images and steps.

attribution_i = (x_i - x'_i) * mean over alpha of d y^c / d x_i at x' + alpha (x - x'),
with a black baseline x' = 0 by default and a midpoint Riemann sum over
``steps`` alphas. Completeness: the attributions sum to y^c(x) - y^c(x') up
to the discretisation error. The map is the per-pixel sum of |attribution|
over channels, normalised per image.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from .base import Attribution, AttributionResult, normalize_maps
from .saliency import input_gradient


def path_gradient(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor, steps: int = 32, baseline: Optional[torch.Tensor] = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean gradient along the straight path from the baseline to x, x - baseline), both (B, 3, H, W)."""
    base = torch.zeros_like(x) if baseline is None else baseline.expand_as(x)
    alphas = (torch.arange(steps, device=x.device, dtype=x.dtype) + 0.5) / steps  # midpoints
    path = base[None] + alphas[:, None, None, None, None] * (x - base)[None]  # (S, B, 3, H, W)
    grad, _ = input_gradient(model, path.reshape(-1, *x.shape[1:]), target.repeat(steps))
    return grad.view(steps, *x.shape).mean(0), x - base


def integrated_gradients(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor, steps: int = 32, baseline: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """Attributions (B, 3, H, W) for the logits of ``target``."""
    mean_grad, delta = path_gradient(model, x, target, steps, baseline)
    return delta * mean_grad


class IntegratedGradients(Attribution):
    name = "ig"
    title = "Integrated Gradients"

    @classmethod
    def from_config(cls, g, seed: int = 0) -> "IntegratedGradients":
        return cls(g.ig_steps)

    def __init__(self, steps: int = 32):
        self.steps = steps

    def compute(self, model, x, target: Optional[torch.Tensor]) -> AttributionResult:
        with torch.no_grad():
            logits = model(x)
        if target is None:
            target = logits.argmax(1)
        attr = integrated_gradients(model, x, target, self.steps)
        return AttributionResult(normalize_maps(attr.abs().sum(1)), target, logits)
