"""What a model sees of a stored split: the images as stored, or the colour-blind oracle's view.

The oracle (``train.input = "colorblind"``) must not be able to tell colours
apart. Its view recolours every stroke (foreground protocol) or background
(background protocol) to one fixed colour with ``colorize.recolor``, from the
stored grayscale digit and the stored colour index, keeping the texture: two
images that differ only in colour map to the same view (up to the uint8
rounding of the stored image, below 1/255). A transform of the RGB image alone
cannot do this exactly, because the stroke's brightness relative to the
background depends on its colour.

Shapes: images float (N, 3, H, W) in [0, 1]; digits uint8 (N, H, W); colors (N,);
palette float (K, 3) in [0, 1].
"""

from __future__ import annotations

import torch

from .colorize import recolor

# the fixed colour of the oracle's view: a white stroke on the dark texture, or a
# mid-gray background behind the light stroke
ORACLE_COLOR = {"foreground": (1.0, 1.0, 1.0), "background": (0.5, 0.5, 0.5), "lff": (1.0, 1.0, 1.0)}


def colorblind_view(images: torch.Tensor, digits: torch.Tensor, colors: torch.Tensor, palette: torch.Tensor,
                    protocol: str) -> torch.Tensor:
    """Every image recoloured to the protocol's fixed colour (float, same shape). Colour protocols only
    (on ``lff`` the per-image colour noise, std ``data.color_std``, stays)."""
    if protocol not in ORACLE_COLOR:
        from ..errors import UsageError

        raise UsageError(f"the colour-blind view needs a colour protocol ({', '.join(ORACLE_COLOR)}); "
                         f"this dataset's shortcut is drawn by {protocol!r}")
    fixed = torch.tensor(ORACLE_COLOR[protocol], dtype=images.dtype, device=images.device)
    old = palette.to(images.device, images.dtype)[colors.to(images.device)]
    out = torch.empty_like(images)
    for i in range(0, images.shape[0], 4096):  # chunks keep the temporaries small
        sl = slice(i, i + 4096)
        out[sl] = recolor(images[sl], digits[sl].to(images.device), old[sl], fixed.expand_as(old[sl]), protocol)
    return out


def model_inputs(images: torch.Tensor, digits: torch.Tensor, colors: torch.Tensor, palette: torch.Tensor,
                 protocol: str, input_mode: str) -> torch.Tensor:
    """The tensor a model with ``input_mode`` is fed for these stored images."""
    if input_mode == "colorblind":
        return colorblind_view(images, digits, colors, palette, protocol)
    return images
