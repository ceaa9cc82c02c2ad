"""``color-entropy``: make colour alone carry no class evidence.

Idea: alongside cross-entropy, show the model uniform colour images (solid
patches of the palette colours and of random colours) and maximise the
entropy of its predictions on them (a loss of KL(uniform || p)). A model
that reads the class from the colour is confident on a solid red patch; this
term forbids that. In the spirit of outlier exposure (Hendrycks et al. 2019)
applied to the bias attribute. Uses the palette (known colours), not per-image
bias labels.

Options: ``weight`` (lambda), ``n_solid`` (solid images per batch).
"""

import math

import torch
import torch.nn.functional as F
from pydantic import Field

from .base import Strategy, StrategyConfig
from .colorops import solid_colors


class ColorEntropyConfig(StrategyConfig):
    weight: float = Field(1.0, ge=0)
    n_solid: int = Field(32, ge=1)


class ColorEntropy(Strategy):
    name = "color-entropy"
    title = "uniform predictions on solid colours"  # readable label of tables (README, report)
    Config = ColorEntropyConfig
    knows = "the generator"  # its solid images are the palette: the generator's exact ten bias colours

    def __init__(self, cfg, ctx=None):
        super().__init__(cfg, ctx)
        self.register_buffer("palette", self.ctx.palette.float().clone(), persistent=False)

    def loss(self, model, batch):
        x, y = batch["x"], batch["y"]
        solid = solid_colors(self.cfg.n_solid, self.palette, x.shape[-1], x.device)
        logits = model(torch.cat([x, solid]))
        la, ls = logits[: x.shape[0]], logits[x.shape[0]:]
        ce = F.cross_entropy(la, y)
        k = ls.shape[1]
        kl_uniform = (-F.log_softmax(ls, 1).mean(1) - math.log(k)).mean()  # KL(uniform || p)
        loss = ce + self.cfg.weight * kl_uniform
        return loss, {"ce": ce.item(), "kl_uniform_solid": kl_uniform.item()}


STRATEGY = ColorEntropy
