"""Colour protocols: ``foreground`` and ``background`` (the tool's own Colored-MNIST) and
``lff`` (the protocol of Learning from Failure, Nam et al. 2020).

* ``foreground``: the stroke takes the colour over a dark textured background.
* ``background``: a light stroke over a background of the colour (see ``colorize``).
* ``lff``: the stroke takes the colour plus per-image Gaussian colour noise of std
  ``data.color_std`` (clipped to [0, 1]) on a black background, as in LfF's
  Colored-MNIST: ``image = digit / 255 * clip(palette[b] + noise)``.
"""

from __future__ import annotations

import torch

from ..colorize import compose, make_textures
from .base import Protocol, ProtocolOptions


class Textured(Protocol):
    kind = "colour"

    def __init__(self, name: str, description: str):
        self.name = name
        self.description = description

    def nuisance(self, n, generator, size, opts):
        noise, stripes = make_textures(n, generator, size, opts.stripe_prob)
        return {"noise": noise, "stripes": stripes}

    def compose(self, digits, bias, palette, nuisance, opts):
        return compose(digits, palette[bias], nuisance["noise"], nuisance["stripes"], self.name)


class NoisyColour(Protocol):
    name = "lff"
    kind = "colour"
    description = "colour times the stroke, per-image colour noise (data.color_std), black background (LfF)"

    def nuisance(self, n, generator, size, opts):
        return {"color_noise": torch.randn(n, 3, generator=generator) * opts.color_std}

    def compose(self, digits, bias, palette, nuisance, opts):
        rgb = (palette[bias] + nuisance["color_noise"]).clamp(0, 1)  # (N, 3)
        alpha = digits.float()[:, None] / 255.0  # (N, 1, H, W)
        return (alpha * rgb[:, :, None, None] * 255.0).round().to(torch.uint8)


FOREGROUND = Textured("foreground", "coloured stroke on a dark textured background")
BACKGROUND = Textured("background", "light stroke on a coloured textured background")
LFF = NoisyColour()
