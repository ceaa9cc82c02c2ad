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

    # The double backward runs on chunks of this many images of the batch: the same
    # loss (sums divided by the batch size), about 20% faster on a 2-core CPU than
    # one graph for a batch of 128 (the chunk's tensors stay in cache).
    chunk = 64

    def loss(self, model, batch):
        x_all, y_all = batch["x"], batch["y"]
        n = x_all.shape[0]
        ce_sum, pen_sum = 0.0, 0.0
        for i in range(0, n, self.chunk):
            x = x_all[i : i + self.chunk].clone().requires_grad_(True)
            y = y_all[i : i + self.chunk]
            logits = model(x)
            ce_sum = ce_sum + F.cross_entropy(logits, y, reduction="sum")
            logp = F.log_softmax(logits, 1).gather(1, y[:, None]).sum()
            (grad,) = torch.autograd.grad(logp, x, create_graph=True)
            pen_sum = pen_sum + chromatic_part(grad).pow(2).sum()
        ce, penalty = ce_sum / n, pen_sum / n
        loss = ce + self.cfg.weight * penalty
        return loss, {"ce": ce.item(), "chroma_grad": penalty.item()}


STRATEGY = InputGradient
