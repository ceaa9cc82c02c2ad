"""Model family: an explicit registry of builders, filled by plain imports.

``build_model(name, num_classes=10) -> nn.Module``; an unknown name is an
error that lists the valid names. Adding a model: one module with a
``@register("name")`` builder, and one import line below.
"""

from __future__ import annotations

from typing import Callable

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


def build_model(name: str, num_classes: int = 10) -> nn.Module:
    if name not in MODELS:
        raise UsageError(f"unknown model {name!r}; valid: {', '.join(sorted(MODELS))}")
    return MODELS[name](num_classes=num_classes)


from . import lazy_cnn, resnet, small_cnn  # noqa: E402,F401  (fill the registry)
