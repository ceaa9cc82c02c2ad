"""Model family: an explicit registry of builders, filled by plain imports.

``build_model(name, num_classes=10, input="rgb") -> nn.Module``; an unknown name is an
error that lists the valid names. Adding a model: one module with a
``@register("name")`` builder, and one import line below.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from ..errors import UsageError

Builder = Callable[..., nn.Module]
MODELS: dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        if name in MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        MODELS[name] = fn
        return fn

    return deco


# Images per forward pass at inference. Measured on a 2-core CPU: lazy-cnn scores
# 10,000 images 3-4x faster in batches of 128 than of 256 or more (the activations
# of a 128-image batch stay in the CPU cache); see the README's performance table.
INFERENCE_BATCH = 128

INPUTS = ("rgb", "grayscale")
LUMA = (0.299, 0.587, 0.114)


def to_grayscale(x: torch.Tensor) -> torch.Tensor:
    """Colour-free copies of RGB images (B, 3, H, W): luminance rescaled so each
    image's brightest pixel is 1 (the stroke's brightness would otherwise still
    tell its colour), repeated on the three channels."""
    w = torch.tensor(LUMA, dtype=x.dtype, device=x.device)
    lum = torch.einsum("bchw,c->bhw", x, w)[:, None]
    lum = lum / lum.amax((2, 3), keepdim=True).clamp_min(1e-6)
    return lum.expand(-1, 3, -1, -1)


def _grayscale_pre_hook(module: nn.Module, args: tuple) -> tuple:
    return (to_grayscale(args[0]), *args[1:])


def build_model(name: str, num_classes: int = 10, input: str = "rgb") -> nn.Module:
    """``input="grayscale"`` gives the same architecture fed colour-free copies of
    its RGB input (the oracle): a parameter-free forward pre-hook, so weights, layer
    names and every analysis stay the same."""
    if name not in MODELS:
        raise UsageError(f"unknown model {name!r}; valid: {', '.join(sorted(MODELS))}")
    if input not in INPUTS:
        raise UsageError(f"unknown input {input!r}; valid: {', '.join(INPUTS)}")
    model = MODELS[name](num_classes=num_classes)
    model.input_mode = input
    if input == "grayscale":
        model.register_forward_pre_hook(_grayscale_pre_hook)
    return model


from . import lazy_cnn, resnet, small_cnn  # noqa: E402,F401  (fill the registry)
