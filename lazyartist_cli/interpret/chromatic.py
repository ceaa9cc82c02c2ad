"""Colour vs luminance: an input attribution split along the gray axis and the chromatic plane.

Per pixel, an RGB vector v splits into its component along the gray axis
u = (1, 1, 1)/sqrt(3) (brightness: the three channels move together) and the
orthogonal chromatic component v - (v.u)u (the channel differences: hue and
saturation). Where the attribution of a pixel lies tells whether the model
reads that pixel's brightness or its colour, which "where" (a map's stroke
share) cannot tell on stroke-coloured digits.

* Gradient attributions (``saliency``, ``smoothgrad``, and ``gradcam-x-gradient``:
  the Grad-CAM map carried to the input by multiplying the input gradient with
  it) split the gradient g: gray mass |g.u|, chromatic mass ||g - (g.u)u||.
* Integrated Gradients (``ig``) splits the path instead: x - x' is the sum of its
  gray part and its chromatic part, and each part's attribution is the mean path
  gradient dotted with that part, per pixel; the two add up to the IG attribution
  of the pixel (completeness holds for their sum).

The chromatic share of an image is sum(chromatic) / (sum(chromatic) + sum(gray))
over its pixels: 1 for a model that reads only channel differences, 0 for one
that reads only the equal-weight channel mean (R + G + B) / 3 (its gradient lies
on the gray axis), ``LUMINANCE_SHARE`` (about 0.37) for one that reads only Rec. 601
luminance (``models.LUMA``: its gradient is not on the gray axis), and
``ISOTROPIC_SHARE`` (about 0.61) for a gradient with no preferred direction in RGB
(two of the three dimensions are chromatic). So "brightness" is relative to these
references: a luminance reader does not score 0.
That reference holds for the gradient splits only: IG's chromatic part (black
baseline) is the pixel's own chromatic colour dotted with the gradient, so a
weakly coloured pixel adds to IG's brightness part whatever the model reads;
compare IG shares between models, not with these references.
All functions are batched over images; the model is put in eval mode and restored.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch
import torch.nn as nn

from ..errors import UsageError
from ..models import LUMA, eval_mode
from .gradcam import GradCAM
from .integrated_gradients import path_gradient
from .saliency import input_gradient, smooth_gradient

# E|z1| / E||(z2, z3)|| for a standard normal gradient: sqrt(2/pi) and sqrt(pi/2)
ISOTROPIC_SHARE = math.sqrt(math.pi / 2) / (math.sqrt(2 / math.pi) + math.sqrt(math.pi / 2))


def _constant_gradient_share(w: tuple[float, float, float]) -> float:
    """The chromatic share of a gradient equal to ``w`` at every pixel (a model reading the w-weighted channel sum)."""
    gray = abs(sum(w)) / math.sqrt(3)
    mean = sum(w) / 3
    chroma = math.sqrt(sum((c - mean) ** 2 for c in w))
    return chroma / (gray + chroma)


# a model that reads only Rec. 601 luminance (0.299 R + 0.587 G + 0.114 B): about 0.37, not 0
LUMINANCE_SHARE = _constant_gradient_share(LUMA)


def gray_axis(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """u = (1, 1, 1)/sqrt(3), shaped (1, 3, 1, 1) to broadcast over (B, 3, H, W)."""
    return torch.full((1, 3, 1, 1), 1 / math.sqrt(3), device=device, dtype=dtype)


def split_gray(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, H, W) -> (gray part, chromatic part), both (B, 3, H, W), summing to v, orthogonal per pixel."""
    u = gray_axis(v.device, v.dtype)
    gray = (v * u).sum(1, keepdim=True) * u
    return gray, v - gray


def gradient_masses(g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel (gray mass, chromatic mass), each (B, H, W) >= 0, of a gradient-like field."""
    gray, chroma = split_gray(g)
    return gray.norm(dim=1), chroma.norm(dim=1)


def _saliency(model, x, target, opts) -> tuple[torch.Tensor, torch.Tensor]:
    return gradient_masses(input_gradient(model, x, target)[0])


def _smoothgrad(model, x, target, opts) -> tuple[torch.Tensor, torch.Tensor]:
    return gradient_masses(smooth_gradient(model, x, target, opts.get("samples", 25), opts.get("sigma", 0.15), opts.get("seed", 0)))


def _gradcam_x_gradient(model, x, target, opts) -> tuple[torch.Tensor, torch.Tensor]:
    cam = GradCAM(opts.get("layer"))(model, x, target).maps  # (B, H, W) in [0, 1]
    return gradient_masses(cam[:, None] * input_gradient(model, x, target)[0])


def _ig(model, x, target, opts) -> tuple[torch.Tensor, torch.Tensor]:
    mean_grad, delta = path_gradient(model, x, target, opts.get("steps", 32))
    d_gray, d_chroma = split_gray(delta)
    return (mean_grad * d_gray).sum(1).abs(), (mean_grad * d_chroma).sum(1).abs()


Components = Callable[[nn.Module, torch.Tensor, torch.Tensor, dict], tuple[torch.Tensor, torch.Tensor]]
COLOR_METHODS: dict[str, Components] = {
    "saliency": _saliency,
    "smoothgrad": _smoothgrad,
    "ig": _ig,
    "gradcam-x-gradient": _gradcam_x_gradient,
}


def color_components(method: str, model: nn.Module, x: torch.Tensor, target: Optional[torch.Tensor] = None,
                     **opts) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(gray mass, chromatic mass, explained class): masses (B, H, W) of ``method``'s attribution
    for ``target`` (default: the predicted class). ``opts``: layer (Grad-CAM), samples, sigma,
    seed (SmoothGrad), steps (IG)."""
    if method not in COLOR_METHODS:
        raise UsageError(f"unknown attribution component method {method!r}; valid: {', '.join(COLOR_METHODS)}")
    with eval_mode(model):
        if target is None:
            with torch.no_grad():
                target = model(x).argmax(1)
        gray, chroma = COLOR_METHODS[method](model, x, target, opts)
        return gray.detach(), chroma.detach(), target


def chromatic_share(gray: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
    """Per image (B,): the chromatic fraction of the attribution mass (0.5 for an all-zero attribution)."""
    g, c = gray.flatten(1).sum(1), chroma.flatten(1).sum(1)
    total = g + c
    return torch.where(total > 0, c / total.clamp_min(1e-30), torch.full_like(total, 0.5))
