"""Vanilla saliency (Simonyan et al. 2014) and SmoothGrad (Smilkov et al. 2017), batched.

Saliency: |d y^c / d x|, maximum over colour channels, per image normalised.
SmoothGrad: the same gradient averaged over ``samples`` noisy copies
(Gaussian noise with std ``sigma`` in pixel units), all copies in one batch.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from .base import Attribution, AttributionResult, normalize_maps


def input_gradient(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(d logit[target] / d x (B, 3, H, W), logits (B, K))."""
    x = x.detach().clone().requires_grad_(True)
    logits = model(x)
    (grad,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), x)
    return grad, logits.detach()


def smooth_gradient(model: nn.Module, x: torch.Tensor, target: torch.Tensor, samples: int, sigma: float, seed: int) -> torch.Tensor:
    """The input gradient averaged over ``samples`` noisy copies (B, 3, H, W), all copies in one batch."""
    b = x.shape[0]
    gen = torch.Generator(device="cpu").manual_seed(seed)
    noise = torch.randn((samples,) + tuple(x.shape), generator=gen).to(x.device) * sigma
    noisy = (x[None] + noise).reshape(samples * b, *x.shape[1:])  # (S*B, 3, H, W)
    grad, _ = input_gradient(model, noisy, target.repeat(samples))
    return grad.view(samples, b, *x.shape[1:]).mean(0)


class Saliency(Attribution):
    name = "saliency"
    title = "saliency"

    def compute(self, model, x, target: Optional[torch.Tensor]) -> AttributionResult:
        if target is None:
            with torch.no_grad():
                target = model(x).argmax(1)
        grad, logits = input_gradient(model, x, target)
        return AttributionResult(normalize_maps(grad.abs().amax(1)), target, logits)


class SmoothGrad(Attribution):
    name = "smoothgrad"
    title = "SmoothGrad"

    @classmethod
    def from_config(cls, g, seed: int = 0) -> "SmoothGrad":
        return cls(g.smoothgrad_samples, g.smoothgrad_sigma, seed)

    def __init__(self, samples: int = 25, sigma: float = 0.15, seed: int = 0):
        self.samples, self.sigma, self.seed = samples, sigma, seed

    def compute(self, model, x, target: Optional[torch.Tensor]) -> AttributionResult:
        with torch.no_grad():
            logits = model(x)
        if target is None:
            target = logits.argmax(1)
        mean_grad = smooth_gradient(model, x, target, self.samples, self.sigma, self.seed)
        return AttributionResult(normalize_maps(mean_grad.abs().amax(1)), target, logits)
