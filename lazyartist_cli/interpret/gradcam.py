"""Grad-CAM (Selvaraju et al., ICCV 2017), written from scratch and batched.

For a target class score y^c and the target layer's feature maps A (B, K, h, w):
weights alpha_k = spatial mean of dy^c/dA_k; map = ReLU(sum_k alpha_k A_k),
upsampled bilinearly to the input size and normalised to [0, 1] per image.
One forward and one backward pass per batch of ``batch_size`` images (the
backward stops at the target layer); each image's map
depends only on that image (the model is put in eval mode), so the batched
result equals the per-image one.

Arguments: model, x (B, 3, H, W), layer name (default: the rectified output of the last
convolution, ``hooks.rectified_conv_name``: Grad-CAM is defined on the ReLU-ed feature maps),
target classes (B,) or None for the predicted class. Returns maps (B, H, W).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import LazyError
from ..models import INFERENCE_BATCH
from .base import Attribution, AttributionResult, normalize_maps
from .hooks import LayerCapture, rectified_conv_name


class GradCAM(Attribution):
    name = "gradcam"
    title = "Grad-CAM"

    @classmethod
    def from_config(cls, g, seed: int = 0) -> "GradCAM":
        return cls(g.layer)

    def __init__(self, layer: Optional[str] = None, batch_size: int = INFERENCE_BATCH):
        self.layer = layer
        self.batch_size = batch_size

    def compute(self, model: nn.Module, x: torch.Tensor, target: Optional[torch.Tensor]) -> AttributionResult:
        layer = self.layer or rectified_conv_name(model)
        frozen = not any(p.requires_grad for p in model.parameters())
        copy = False  # set once an in-place op downstream is seen to change the captured output
        maps, classes, logits = [], [], []
        for i in range(0, x.shape[0], self.batch_size):
            xb = x[i : i + self.batch_size].detach()
            if frozen:
                xb = xb.clone().requires_grad_(True)  # the graph needs one leaf that wants a gradient
            tb = None if target is None else target[i : i + self.batch_size]
            out = self._chunk(model, layer, xb, tb, copy)
            if out is None:
                copy = True
                out = self._chunk(model, layer, xb, tb, copy)
            maps.append(out[0])
            classes.append(out[1])
            logits.append(out[2])
        return AttributionResult(torch.cat(maps), torch.cat(classes), torch.cat(logits), layer)

    @staticmethod
    def _chunk(model: nn.Module, layer: str, x: torch.Tensor, target: Optional[torch.Tensor], copy: bool):
        """(maps, classes, logits) for one batch, or None when the layer's output was
        changed in place and must be captured with a copy."""
        with torch.enable_grad(), LayerCapture(model, layer, copy=copy) as cap:
            logits = model(x)
            if cap.activation is None:
                raise LazyError(f"layer {layer!r} was not used in the forward pass")
            cls = logits.argmax(1) if target is None else target
            grads = cap.gradient_of(logits.gather(1, cls[:, None]).sum())
            if cap.modified:
                return None
            acts = cap.activation  # (B, K, h, w)
        if grads is None:
            raise LazyError(f"no gradient reaches layer {layer!r}; choose another --layer")
        if acts.dim() != 4:
            raise LazyError(f"layer {layer!r} outputs shape {tuple(acts.shape)}; Grad-CAM needs a (B, K, h, w) feature map")
        weights = grads.mean((2, 3))  # (B, K)
        cam = F.relu(torch.einsum("bk,bkhw->bhw", weights, acts))[:, None]  # (B, 1, h, w)
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        return normalize_maps(cam), cls.detach(), logits.detach()


def grad_cam(
    model: nn.Module, x: torch.Tensor, layer: Optional[str] = None, target: Optional[torch.Tensor] = None, batch_size: int = INFERENCE_BATCH
) -> torch.Tensor:
    """Functional form: maps (B, H, W) in [0, 1]."""
    return GradCAM(layer, batch_size)(model, x, target).maps
