"""A label-free colour-reliance score: how a model answers a solid colour.

Uniform images of each palette colour carry no digit at all. A shape-based
model should be unsure on them (high entropy, low confidence); a colour-based
one answers with the class whose dominant colour it is.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..metrics import entropy
from ..models import eval_mode


@torch.no_grad()
def color_reliance(model: nn.Module, palette: torch.Tensor, size: int = 28) -> dict[str, float]:
    """palette (K, 3) in [0, 1]. Returns mean confidence, mean entropy (nats and as a share of log K)
    and the share of solid colours predicted as the class they are dominant for."""
    device = next(model.parameters()).device
    solid = palette.to(device)[:, :, None, None].expand(-1, 3, size, size).contiguous()  # (K, 3, H, W)
    with eval_mode(model):
        probs = F.softmax(model(solid), 1)
    k = palette.shape[0]
    ent = entropy(probs)
    return {
        "solid_confidence": probs.max(1).values.mean().item(),
        "solid_entropy": ent.mean().item(),
        "solid_entropy_normalized": (ent.mean() / math.log(probs.shape[1])).item(),
        "solid_follows_palette": (probs.argmax(1) == torch.arange(k, device=device)).float().mean().item(),
    }
