"""Capturing a layer's activation and its gradient, with hooks that are always removed."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from ..errors import UsageError
from ..models import INFERENCE_BATCH, eval_mode


def find_layer(model: nn.Module, name: str) -> nn.Module:
    """The module called ``name`` in ``model.named_modules()``; an unknown name lists the valid ones."""
    modules = dict(model.named_modules())
    if name not in modules or name == "":
        valid = [n for n in modules if n]
        raise UsageError(f"unknown layer {name!r}; valid: {', '.join(valid)}")
    return modules[name]


def last_conv_name(model: nn.Module) -> str:
    """The last ``nn.Conv2d`` in module order (the one before global pooling in our models)."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not names:
        raise UsageError("the model has no Conv2d layer; pass --layer")
    return names[-1]


ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.ReLU6)
PASS_THROUGH = (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d, nn.Identity, nn.Dropout, nn.Dropout2d)


def rectified_conv_name(model: nn.Module) -> str:
    """Grad-CAM's default layer: the rectified output of the last convolution.

    After the last ``nn.Conv2d`` in module order, skipping normalisation and dropout, the first
    activation module (``act_c2`` in lazy-cnn, ``features.2.2`` in small-cnn); when none follows
    directly (a residual block applies its ReLU after the addition), the top-level block that
    holds the last convolution (``layer4`` in resnet18); else the convolution itself."""
    conv = last_conv_name(model)
    names = [n for n, _ in model.named_modules()]
    modules = dict(model.named_modules())
    for name in names[names.index(conv) + 1 :]:
        m = modules[name]
        if isinstance(m, ACTIVATIONS):
            return name
        if not isinstance(m, PASS_THROUGH):
            break
    top = conv.split(".")[0]
    return top if top != conv else conv


class LayerCapture:
    """Context manager around one layer's forward pass.

    The forward hook keeps the layer's output as ``live`` (still in the graph) and
    ``activation`` (detached). With ``copy=True`` (the default) the rest of the
    network gets a copy, so a later in-place op (``ReLU(inplace=True)``) cannot
    change what was captured; with ``copy=False`` nothing is copied and
    ``modified`` tells afterwards whether an in-place op did change it.
    A tensor hook registered on the output stores the gradient that reaches it;
    ``gradient_of(score)`` differentiates only down to this layer (the layers
    below it are not back-propagated through) and returns that gradient. The
    hooks are removed on exit, even after an exception."""

    def __init__(self, model: nn.Module, layer_name: str, copy: bool = True):
        self.layer = find_layer(model, layer_name)
        self.name = layer_name
        self.copy = copy
        self.activation: Optional[torch.Tensor] = None
        self.live: Optional[torch.Tensor] = None  # the output itself, still in the graph
        self.gradient: Optional[torch.Tensor] = None  # set by the tensor hook
        self._version = 0
        self._handles: list = []

    def _forward_hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> Optional[torch.Tensor]:
        self.live = output
        self.activation = output.detach()
        self._version = output._version
        if output.requires_grad:

            def store(grad: torch.Tensor) -> None:
                self.gradient = grad

            self._handles.append(output.register_hook(store))
        return output.clone() if self.copy else None

    @property
    def modified(self) -> bool:
        """True when an in-place op changed the captured output after the hook ran."""
        return self.live is not None and self.live._version != self._version

    def gradient_of(self, score: torch.Tensor) -> Optional[torch.Tensor]:
        """d score / d (layer output), or None when the score does not depend on it."""
        if self.live is None or not self.live.requires_grad:
            return None
        self.gradient = None
        torch.autograd.grad(score, self.live, allow_unused=True)
        return self.gradient

    def __enter__(self) -> "LayerCapture":
        self._handles.append(self.layer.register_forward_hook(self._forward_hook))
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self.live = None


@torch.no_grad()
def layer_outputs(model: nn.Module, layer: str, x: torch.Tensor, reduce=None, batch_size: int = INFERENCE_BATCH) -> torch.Tensor:
    """The layer's output for images x (N, 3, H, W), batched, in eval mode (mode restored).
    ``reduce`` maps each batch's output to what is kept (default: flattened to (B, -1))."""
    out = []
    with eval_mode(model), LayerCapture(model, layer) as cap:
        for i in range(0, x.shape[0], batch_size):
            model(x[i : i + batch_size])
            act = cap.activation
            out.append(reduce(act) if reduce is not None else act.flatten(1))
    return torch.cat(out)
