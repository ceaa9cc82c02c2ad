"""Vectorised colouring of grayscale digits (the heart of Colored-MNIST).

Two protocols, both working on whole batches of tensors:

* ``foreground``: the stroke takes the colour (grayscale intensity x colour)
  over a dark, textured background: low-amplitude noise plus, in some images,
  low-frequency stripes (never a flat colour, so "dark pixels" are not a
  trivial cue).
* ``background``: a light stroke over a background of the colour, modulated
  by the same kind of texture.

Shapes: digits (N, 28, 28) uint8; colours (N, 3) float in [0, 1];
textures (N, 28, 28) float; images (N, 3, 28, 28) uint8.
"""

from __future__ import annotations

import math

import torch

PROTOCOLS = ("foreground", "background")
STROKE_LIGHT = 0.95  # stroke intensity of the background protocol


def assign_colors(
    labels: torch.Tensor, correlation: float, generator: torch.Generator, n_classes: int = 10
) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour index per image: its class's colour with probability ``correlation``,
    else one of the other ``n_classes - 1`` colours, uniformly. Returns (colors, aligned)."""
    n = labels.shape[0]
    aligned = torch.rand(n, generator=generator) < correlation
    shift = torch.randint(1, n_classes, (n,), generator=generator)
    colors = torch.where(aligned, labels, (labels + shift) % n_classes)
    return colors, aligned


def conflicting_colors(labels: torch.Tensor, generator: torch.Generator, n_classes: int = 10) -> torch.Tensor:
    """Never the dominant colour: uniformly one of the other ``n_classes - 1``."""
    shift = torch.randint(1, n_classes, (labels.shape[0],), generator=generator)
    return (labels + shift) % n_classes


def make_textures(n: int, generator: torch.Generator, size: int = 28, stripe_prob: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """Background textures: (noise (N, 3, H, W) in [0, 1], stripes (N, H, W) in [0, 1]).

    Stripes are a sinusoid of random orientation, phase and a low frequency
    (2 to 5 cycles across the image), present in ``stripe_prob`` of images.
    """
    noise = torch.rand(n, 3, size, size, generator=generator)
    theta = torch.rand(n, generator=generator) * math.pi
    freq = 2.0 + 3.0 * torch.rand(n, generator=generator)
    phase = torch.rand(n, generator=generator) * 2 * math.pi
    has = (torch.rand(n, generator=generator) < stripe_prob).float()
    coords = torch.arange(size, dtype=torch.float32) / size
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")  # (H, W)
    proj = xx[None] * torch.cos(theta)[:, None, None] + yy[None] * torch.sin(theta)[:, None, None]
    stripes = 0.5 + 0.5 * torch.sin(2 * math.pi * freq[:, None, None] * proj + phase[:, None, None])
    return noise, stripes * has[:, None, None]


def compose(
    digits: torch.Tensor,
    rgb: torch.Tensor,
    noise: torch.Tensor,
    stripes: torch.Tensor,
    protocol: str = "foreground",
) -> torch.Tensor:
    """Colour a batch of digits; returns uint8 images (N, 3, H, W)."""
    alpha = digits.float().mul_(1.0 / 255.0)[:, None]  # (N, 1, H, W)
    col = rgb[:, :, None, None].float()  # (N, 3, 1, 1)
    if protocol == "foreground":
        # in 0..255 units: dark background, noise up to 25.5 per channel, stripes add up to 38.25 (grey);
        # img = alpha * col + (1 - alpha) * background, always inside [0, 255]
        background = (noise * 25.5).add_(stripes[:, None] * 38.25)
        img = background.add_(alpha * (col * 255.0 - background))
        return img.round_().to(torch.uint8)
    elif protocol == "background":
        # the colour, modulated in brightness by texture (0.55 .. 0.95)
        texture = 0.55 + 0.25 * noise.mean(1, keepdim=True) + 0.15 * stripes[:, None]
        img = alpha * STROKE_LIGHT + (1 - alpha) * col * texture
    else:
        raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    return (img.clamp(0, 1) * 255.0).round().to(torch.uint8)


def recolor(
    images: torch.Tensor, digits: torch.Tensor, old_rgb: torch.Tensor, new_rgb: torch.Tensor, protocol: str
) -> torch.Tensor:
    """Give already coloured images a new colour, keeping stroke and texture.

    images (N, 3, H, W) float in [0, 1]; digits (N, H, W) uint8 (the grayscale
    stroke); old_rgb, new_rgb (N, 3) in [0, 1]. Returns float images in [0, 1].
    """
    alpha = (digits.float() / 255.0)[:, None]
    old = old_rgb[:, :, None, None]
    new = new_rgb[:, :, None, None]
    if protocol == "foreground":
        out = images + alpha * (new - old)
    elif protocol == "background":
        # background part = (1 - alpha) * old * texture: recover texture from old's strongest channel
        strongest = old_rgb.argmax(1)  # (N,)
        idx = strongest[:, None, None, None].expand(-1, 1, *images.shape[2:])
        part = images.gather(1, idx) - alpha * STROKE_LIGHT
        denom = ((1 - alpha) * old.gather(1, strongest[:, None, None, None])).clamp_min(1e-3)
        texture = (part / denom).clamp(0, 1.5)
        out = alpha * STROKE_LIGHT + (1 - alpha) * new * texture
    else:
        raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    return out.clamp(0, 1)
