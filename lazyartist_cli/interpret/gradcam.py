"""Grad-CAM (Selvaraju et al., ICCV 2017), written from scratch and batched.

For a target class score y^c and the target layer's feature maps A (B, K, h, w):
weights alpha_k = spatial mean of dy^c/dA_k; map = ReLU(sum_k alpha_k A_k),
upsampled bilinearly to the input size and normalised to [0, 1] per image.
One forward and one backward pass for the whole batch; each image's map
depends only on that image (the model is put in eval mode), so the batched
result equals the per-image one.

Arguments: model, x (B, 3, H, W), layer name (default: the last Conv2d),
target classes (B,) or None for the predicted class. Returns maps (B, H, W).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import LazyError
from .base import Attribution, AttributionResult, normalize_maps
from .hooks import LayerCapture, last_conv_name


class GradCAM(Attribution):
    name = "gradcam"

    def __init__(self, layer: Optional[str] = None):
        self.layer = layer

    def compute(self, model: nn.Module, x: torch.Tensor, target: Optional[torch.Tensor]) -> AttributionResult:
        layer = self.layer or last_conv_name(model)
        x = x.detach().clone().requires_grad_(True)
        with LayerCapture(model, layer) as cap:
            logits = model(x)
            cls = logits.argmax(1) if target is None else target
            score = logits.gather(1, cls[:, None]).sum()
            torch.autograd.grad(score, x, allow_unused=True)
        if cap.activation is None:
            raise LazyError(f"layer {layer!r} was not used in the forward pass")
        if cap.gradient is None:
            raise LazyError(f"no gradient reaches layer {layer!r}; choose another --layer")
        acts, grads = cap.activation, cap.gradient  # (B, K, h, w)
        if acts.dim() != 4:
            raise LazyError(f"layer {layer!r} outputs shape {tuple(acts.shape)}; Grad-CAM needs a (B, K, h, w) feature map")
        weights = grads.mean((2, 3), keepdim=True)  # (B, K, 1, 1)
        cam = F.relu((weights * acts).sum(1, keepdim=True))  # (B, 1, h, w)
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        return AttributionResult(normalize_maps(cam), cls.detach(), logits.detach(), layer)


def grad_cam(model: nn.Module, x: torch.Tensor, layer: Optional[str] = None, target: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Functional form: maps (B, H, W) in [0, 1]."""
    return GradCAM(layer)(model, x, target).maps
