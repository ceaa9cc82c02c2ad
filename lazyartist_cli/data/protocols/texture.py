"""``texture``: the class is coded by the orientation of background stripes, not by colour.

A white digit over a dark background of low-amplitude noise plus a sinusoidal
grating of orientation ``b * 18`` degrees (the bias value ``b``; 10 orientations
over 180 degrees), with a random frequency (2 to 5 cycles across the image) and
phase per image (the nuisance, shared by test_easy and test_hard). Nothing
about the bias is colour: every pixel is gray.
"""

from __future__ import annotations

import math

import torch

from ..colorize import random_bytes
from .base import Protocol

AMPLITUDE = 110.0  # grating amplitude in 0..255 units (the background noise adds up to 25.5)


def gratings(bias: torch.Tensor, freq: torch.Tensor, phase: torch.Tensor, size: int) -> torch.Tensor:
    """(N,) orientation index, frequency, phase -> (N, H, W) float in [0, 1]."""
    coords = torch.arange(size, dtype=torch.float32) / size
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    theta = bias.float() * (math.pi / 10)
    proj = xx[None] * torch.cos(theta)[:, None, None] + yy[None] * torch.sin(theta)[:, None, None]
    return 0.5 + 0.5 * torch.sin(2 * math.pi * freq[:, None, None] * proj + phase[:, None, None])


class Texture(Protocol):
    name = "texture"
    kind = "texture"
    description = "white digit on a background grating whose orientation (18 b degrees) codes the class"

    def nuisance(self, n, generator, size, opts):
        noise = random_bytes((n, size, size), generator)
        freq = 2.0 + 3.0 * torch.rand(n, generator=generator)
        phase = torch.rand(n, generator=generator) * 2 * math.pi
        return {"noise": noise, "freq": freq, "phase": phase}

    def compose(self, digits, bias, palette, nuisance, opts):
        alpha = digits.float() / 255.0  # (N, H, W)
        background = nuisance["noise"].float() * 0.1 + AMPLITUDE * gratings(bias, nuisance["freq"], nuisance["phase"],
                                                                             digits.shape[-1])
        img = background + alpha * (255.0 - background)
        return img.round().to(torch.uint8)[:, None].expand(-1, 3, -1, -1).contiguous()

    def bias_names(self, palette_names):
        return [f"{18 * b}deg" for b in range(10)]


TEXTURE = Texture()
