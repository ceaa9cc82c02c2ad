"""``input-gradient``: "right for the right reasons" on colour (Ross et al. 2017).

Idea: penalise the part of the input gradient of the log-likelihood that
changes colour but not luminance. At each pixel the gradient over (R, G, B)
is split into its luminance part (the mean over channels, a change that keeps
the hue) and its chromatic remainder; the squared norm of the chromatic part
is added to cross-entropy. A model whose decision moves when the colour
moves pays for it; shape (luminance) gradients are free. Costs a
double-backward pass.

Options: ``weight`` (lambda of the penalty, per pixel, summed over the image).
"""

import torch
import torch.nn.functional as F
from pydantic import Field

from .base import Strategy, StrategyConfig


class InputGradientConfig(StrategyConfig):
    weight: float = Field(100.0, ge=0)


def chromatic_part(grad: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> the component orthogonal to the gray direction (1, 1, 1)."""
    return grad - grad.mean(1, keepdim=True)


class InputGradient(Strategy):
    name = "input-gradient"
    Config = InputGradientConfig

    def loss(self, model, batch):
        x = batch["x"].clone().requires_grad_(True)
        logits = model(x)
        ce = F.cross_entropy(logits, batch["y"])
        logp = F.log_softmax(logits, 1).gather(1, batch["y"][:, None]).sum()
        (grad,) = torch.autograd.grad(logp, x, create_graph=True)
        penalty = chromatic_part(grad).pow(2).sum((1, 2, 3)).mean()
        loss = ce + self.cfg.weight * penalty
        return loss, {"ce": ce.item(), "chroma_grad": penalty.item()}


STRATEGY = InputGradient
