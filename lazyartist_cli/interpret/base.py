"""The attribution interface shared by Grad-CAM, saliency, SmoothGrad and Integrated Gradients.

``Attribution.__call__(model, x, target) -> AttributionResult`` puts the model
in eval mode, computes the maps batched, and restores the model's mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn

from ..models import eval_mode


@dataclass
class AttributionResult:
    maps: torch.Tensor  # (B, H, W) in [0, 1]
    target: torch.Tensor  # (B,) the class explained
    logits: torch.Tensor  # (B, K)
    layer: Optional[str] = None


def normalize_maps(maps: torch.Tensor) -> torch.Tensor:
    """Per-image min-max normalisation to [0, 1]; a constant map becomes zeros."""
    flat = maps.flatten(1)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    out = (flat - lo) / (hi - lo).clamp_min(1e-12)
    out = torch.where((hi - lo) > 1e-12, out, torch.zeros_like(out))
    return out.view_as(maps)


class Attribution:
    name = ""
    title = ""  # how figures and the report name the method

    @classmethod
    def from_config(cls, g, seed: int = 0) -> "Attribution":
        """Build from the ``[gradcam]`` options (any object with the attributes the method reads)."""
        return cls()

    def compute(self, model: nn.Module, x: torch.Tensor, target: Optional[torch.Tensor]) -> AttributionResult:
        raise NotImplementedError

    def __call__(self, model: nn.Module, x: torch.Tensor, target: Optional[torch.Tensor] = None) -> AttributionResult:
        with eval_mode(model):
            return self.compute(model, x, target)
