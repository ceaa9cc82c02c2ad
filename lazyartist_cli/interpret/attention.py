"""Quantified attention: how much of a map's mass lies on the digit's stroke.

* stroke share: sum(map * stroke) / sum(map), with stroke = grayscale digit > 0.3;
* concentration: the fraction of pixels that hold 80% of the map's mass
  (small = focused, large = diffuse).

An image's attention is labelled ``stroke`` when its stroke share is at least
``STROKE_FOCUSED`` (0.5: the stroke covers about a fifth of an MNIST image,
so half the mass there is 2.5x what a uniform map gives), ``diffuse`` when
it is not and the concentration is at least ``DIFFUSE`` (0.5: 80% of the mass
needs half the image or more), else ``background``.
"""

from __future__ import annotations

import torch

STROKE_THRESHOLD = 0.3
STROKE_FOCUSED = 0.5
DIFFUSE = 0.5


def stroke_mask(digits: torch.Tensor) -> torch.Tensor:
    """(B, H, W) uint8 grayscale digits -> bool stroke mask."""
    return digits.float() / 255.0 > STROKE_THRESHOLD


def attention_scores(maps: torch.Tensor, digits: torch.Tensor) -> dict[str, torch.Tensor]:
    """maps (B, H, W) >= 0; digits (B, H, W) uint8. Returns per-image scores and labels."""
    mask = stroke_mask(digits).to(maps.device).float()
    flat = maps.flatten(1)
    total = flat.sum(1).clamp_min(1e-12)
    share = (flat * mask.flatten(1)).sum(1) / total
    sorted_mass = flat.sort(1, descending=True).values.cumsum(1) / total[:, None]
    needed = (sorted_mass < 0.8).sum(1) + 1  # pixels until 80% is reached
    concentration = needed.float() / flat.shape[1]
    label = torch.where(share >= STROKE_FOCUSED, 0, torch.where(concentration >= DIFFUSE, 1, 2))
    return {"stroke_share": share, "concentration": concentration, "label": label}


LABELS = ("stroke", "diffuse", "background")
