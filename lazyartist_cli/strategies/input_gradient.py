"""``input-gradient``: "right for the right reasons" on colour (Ross et al., IJCAI 2017).

Idea: penalise the input gradient of the summed log-probabilities of *all*
classes, ``d/dx sum_k log p_k(x)`` (the paper's penalty, eq. 1; not only the
true class's, which fades to zero on confidently fitted images, exactly where
colour should be penalised), restricted to the directions that change colour.
The paper masks the gradient with a per-pixel annotation A; here the "wrong
reason" is a direction rather than a region: at each pixel the gradient over
(R, G, B) is split into its gray part (the mean over channels, a change of
brightness that keeps the hue) and its chromatic remainder, and the squared
norm of the chromatic part is the penalty. Optionally (``brightness_weight``)
the sensitivity to a global brightness change is penalised too: the squared
directional derivative ``<grad, x>`` along the image itself, i.e. d/da of the
summed log-probabilities at ``a * x``, a = 1 (colours of different brightness
are otherwise still told apart by that). Costs a double-backward pass.

Options: ``weight`` (lambda of the chromatic penalty, summed over pixels),
``brightness_weight``. Knows that the bias is colour; no bias labels.

Shapes: x (B, 3, H, W); the gradient has the same shape.
"""

import torch
import torch.nn.functional as F
from pydantic import Field

from .base import Strategy, StrategyConfig


class InputGradientConfig(StrategyConfig):
    weight: float = Field(10.0, ge=0, description="chromatic part of the input gradient, squared, summed over pixels")
    brightness_weight: float = Field(0.0, ge=0, description="squared derivative along a global brightness scaling")


def chromatic_part(grad: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> the component orthogonal to the gray direction (1, 1, 1)."""
    return grad - grad.mean(1, keepdim=True)


def rrr_penalties(model, x: torch.Tensor, y: torch.Tensor, create_graph: bool = True
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(cross-entropy sum, chromatic penalty sum, brightness penalty sum) over the images of x."""
    x = x.clone().requires_grad_(True)
    logits = model(x)
    ce_sum = F.cross_entropy(logits, y, reduction="sum")
    logp_all = F.log_softmax(logits, 1).sum()  # sum over images and over every class (Ross et al.)
    (grad,) = torch.autograd.grad(logp_all, x, create_graph=create_graph)
    chroma = chromatic_part(grad).pow(2).sum()
    bright = (grad * x).sum((1, 2, 3)).pow(2).sum()  # per image d/da at a = 1, squared
    return ce_sum, chroma, bright


def batch_penalties(model, x: torch.Tensor, y: torch.Tensor, chunk: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(cross-entropy, chromatic penalty, brightness penalty), each a mean over the batch, computed
    on chunks of ``chunk`` images. For a model without batch statistics (``lazy-cnn``) this equals one graph
    over the whole batch; a BatchNorm model in training mode (``small-cnn``, ``resnet18``) normalises each
    chunk with the chunk's own statistics, so its values differ from a whole-batch graph."""
    n = x.shape[0]
    ce_sum, chroma_sum, bright_sum = 0.0, 0.0, 0.0
    for i in range(0, n, chunk):
        c, ch, b = rrr_penalties(model, x[i : i + chunk], y[i : i + chunk])
        ce_sum, chroma_sum, bright_sum = ce_sum + c, chroma_sum + ch, bright_sum + b
    return ce_sum / n, chroma_sum / n, bright_sum / n


class InputGradient(Strategy):
    name = "input-gradient"
    title = "chromatic input-gradient penalty (Ross et al.)"  # readable label of tables (README, report)
    Config = InputGradientConfig
    knows = "the shortcut's type"
    input_gradients = True  # differentiates through the input: trained in fp32 (precision.py)

    # The double backward runs on chunks of this many images of the batch (sums divided by the
    # batch size; the chunk's tensors stay in cache on a small CPU). The same loss as one graph
    # only for models without batch statistics: BatchNorm normalises each chunk on its own.
    chunk = 64

    def loss(self, model, batch):
        ce, chroma, bright = batch_penalties(model, batch["x"], batch["y"], self.chunk)
        loss = ce + self.cfg.weight * chroma + self.cfg.brightness_weight * bright
        return loss, {"ce": ce.item(), "chroma_grad": chroma.item(), "brightness_grad": bright.item()}


STRATEGY = InputGradient
