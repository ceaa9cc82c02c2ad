"""Model family: an explicit registry of builders, filled by plain imports.

``build_model(name, num_classes=10, input="rgb", options=None) -> nn.Module``; an
unknown name is an error that lists the valid names. Adding a model: one module
with a ``@register("name", options=OptionsModel, defaults={...})`` builder, and
one import line below. ``options`` (a pydantic model) validates the run file's
``train.model_options``; ``resolve_options`` gives the full set stored in
checkpoints, so a model is rebuilt from its checkpoint alone.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

import torch
import torch.nn as nn
from pydantic import BaseModel, ValidationError

from ..errors import UsageError

Builder = Callable[..., nn.Module]
MODELS: dict[str, Builder] = {}
OPTIONS: dict[str, tuple[Optional[type[BaseModel]], dict[str, Any]]] = {}
# checkpoints written before a model had options were built with these designs
LEGACY_NAMES = {"lazy-cnn": "lazy-cnn-v1"}


def register(name: str, options: Optional[type[BaseModel]] = None, defaults: Optional[dict[str, Any]] = None
             ) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        if name in MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        MODELS[name] = fn
        OPTIONS[name] = (options, dict(defaults or {}))
        return fn

    return deco


def resolve_options(name: str, options: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The model's defaults updated with ``options``, validated (unknown knobs are an error)."""
    if name not in MODELS:
        raise UsageError(f"unknown model {name!r}; valid: {', '.join(sorted(MODELS))}")
    schema, defaults = OPTIONS[name]
    merged = {**defaults, **(options or {})}
    if schema is None:
        if options:
            raise UsageError(f"model {name!r} takes no options, got {', '.join(sorted(options))}")
        return {}
    try:
        return schema.model_validate(merged).model_dump(mode="json")
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise UsageError(f"train.model_options.{loc}: {err['msg']}") from None


# Images per forward pass at inference: on a small CPU the activations of a 128-image
# batch of lazy-cnn stay in cache (docs/performance.md names the benchmarks that measure it).
INFERENCE_BATCH = 128


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode inside the block; its own mode (train or eval) restored after, also on error."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)

# rgb: the stored images. colorblind: the oracle; every stroke recoloured to one
# fixed colour from the stored digit (``data.views``), so the model cannot see colour.
# grayscale: the tool's first oracle (luminance / image max), kept so old runs
# load; NOT colour-blind (the stroke-to-background ratio tells the colour).
INPUTS = ("rgb", "colorblind", "grayscale")
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


def build_model(name: str, num_classes: int = 10, input: str = "rgb", options: Optional[dict[str, Any]] = None) -> nn.Module:
    """``input="grayscale"`` (legacy) gives the same architecture fed luminance copies
    of its RGB input through a parameter-free forward pre-hook. ``input="colorblind"``
    changes nothing in the model: the pipeline feeds it recoloured images
    (``data.views.model_inputs``); ``model.input_mode`` says which."""
    if input not in INPUTS:
        raise UsageError(f"unknown input {input!r}; valid: {', '.join(INPUTS)}")
    resolved = resolve_options(name, options)
    model = MODELS[name](num_classes=num_classes, **resolved)
    model.input_mode = input
    if input == "grayscale":
        model.register_forward_pre_hook(_grayscale_pre_hook)
    return model


from . import lazy_cnn, mlp, mlp_disentangle, resnet, small_cnn  # noqa: E402,F401  (fill the registry)
