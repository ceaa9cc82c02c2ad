"""``neuron-suppression``: switch off the most colour-selective units of the first layer during training.

Idea: if the shortcut lives in a few colour-tuned filters of the first
convolution, removing them should push the network to read shape. Every
``every`` optimiser steps the strategy measures each first-layer channel's
colour selectivity on the current batch: the mean absolute change of its
rectified, spatially averaged response when the batch is recoloured (any
hue, brightness, contrast and saturation jitter), relative to its mean
response. The ``fraction`` most selective of the channels still on are
suppressed, in ``rounds`` rounds ``every`` steps apart (a network that moves
colour to other channels after the first round loses those too): their
weights and bias are zeroed after every optimiser step (``after_step``), so
they stay switched off in the stored checkpoint and at evaluation; the rest
train with plain cross-entropy. In the spirit of unit ablation studies
(e.g. Bau et al. 2017, "Network Dissection"); here as a training-time
intervention. Knows that the bias is colour; no bias labels.

Options: ``fraction`` (of the channels still on, per round), ``rounds``,
``every`` (steps between rounds; a channel once suppressed stays suppressed),
``warmup`` (steps of plain training before the first round, so that the
channels have become tuned).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from pydantic import Field

from ..errors import UsageError
from .base import Strategy, StrategyConfig
from .colorops import recolor_views

MEASURE_OPS = ["hue", "brightness", "contrast", "saturation"]


class NeuronSuppressionConfig(StrategyConfig):
    fraction: float = Field(0.25, gt=0, lt=1, description="share of the channels still on switched off per round")
    rounds: int = Field(2, ge=1, le=10, description="measurement rounds")
    every: int = Field(400, ge=1, description="optimiser steps between rounds")
    warmup: int = Field(200, ge=0, description="steps of plain cross-entropy before the first measurement")


def first_conv(model: nn.Module) -> nn.Conv2d:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m
    raise UsageError("neuron-suppression needs a model with a Conv2d layer (its units are the first conv layer's channels)")


@torch.no_grad()
def color_selectivity(conv: nn.Conv2d, x: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
    """(C,) mean |response(x) - response(recoloured x)| / mean response, per output channel."""
    a = F.relu(conv(x)).mean((2, 3))  # (B, C)
    b = F.relu(conv(views)).mean((2, 3))
    return (a - b).abs().mean(0) / (0.5 * (a.mean(0) + b.mean(0))).clamp_min(1e-6)


class NeuronSuppression(Strategy):
    name = "neuron-suppression"
    title = "suppress colour units"  # readable label of tables (README, report)
    Config = NeuronSuppressionConfig
    knows = "the shortcut's type"

    def __init__(self, cfg, ctx=None):
        super().__init__(cfg, ctx)
        channels = first_conv(self.ctx.model_builder()).out_channels if self.ctx.model_builder else 0
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("suppressed", torch.zeros(channels, dtype=torch.bool))

    def loss(self, model, batch):
        x, y = batch["x"], batch["y"]
        conv = first_conv(model)
        if self.suppressed.numel() != conv.out_channels:
            self.suppressed = torch.zeros(conv.out_channels, dtype=torch.bool, device=x.device)
        s = int(self.step) - self.cfg.warmup
        if s >= 0 and s % self.cfg.every == 0 and s // self.cfg.every < self.cfg.rounds:
            sel = color_selectivity(conv, x, recolor_views(x, MEASURE_OPS, compose=True))
            sel[self.suppressed] = -float("inf")  # already off: choose among the channels still on
            k = max(1, round(self.cfg.fraction * int((~self.suppressed).sum())))
            self.suppressed[sel.topk(k).indices] = True
        self.step += 1
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        return loss, {"ce": loss.item(), "suppressed": float(self.suppressed.sum())}

    @torch.no_grad()
    def after_step(self, model: nn.Module) -> None:
        if self.suppressed.numel() and self.suppressed.any():
            conv = first_conv(model)
            conv.weight[self.suppressed] = 0.0
            if conv.bias is not None:
                conv.bias[self.suppressed] = 0.0


STRATEGY = NeuronSuppression
