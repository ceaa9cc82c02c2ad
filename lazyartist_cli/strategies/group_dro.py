"""``group-dro``: Group distributionally robust optimisation (Sagawa et al., ICLR 2020).

Idea: minimise the worst group's loss instead of the average, with groups
(class, colour): the aligned groups are large and easy, the 90 counter-example
groups small and hard. Keeps a distribution q over groups, updated by
exponentiated gradient ascent on each group's batch loss,
``q_g <- q_g * exp(eta * loss_g)``, normalised; the training loss is
``sum_g q_g * loss_g`` (groups absent from the batch contribute zero), as in
the paper's code, with the generalisation adjustment ``C / sqrt(n_g)`` added
to each group's loss in the update of q (``adjustment`` = C; 0 turns it off).
Batches are drawn **group-balanced** by default (``sampling = "balanced"``: every
epoch draws n rows with replacement, row i with probability proportional to
1 / n_g(i), as the paper's code does for GroupDRO); with ``"uniform"`` a minority
group of ~28 images is absent from most batches of 128 and gets no weight in
the update. **Uses the bias value of every training image** (the stored
``colors``: group labels on all training data), the strongest knowledge of any
strategy here: a labelled reference, not a method for unknown shortcuts. Its
checkpoint rule is the worst group's validation accuracy.

Options: ``eta`` (step size of q), ``adjustment`` (C), ``sampling``.
"""

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from .base import Strategy, StrategyConfig


class GroupDROConfig(StrategyConfig):
    eta: float = Field(0.01, gt=0, le=10, description="step size of the group weights")
    adjustment: float = Field(0.0, ge=0, le=100, description="C of the generalisation adjustment C / sqrt(n_g)")
    sampling: Literal["balanced", "uniform"] = Field(
        "balanced", description="balanced: rows drawn with probability 1 / n_g (with replacement); uniform: plain epochs")


def group_losses(per_sample: torch.Tensor, groups: torch.Tensor, n_groups: int) -> torch.Tensor:
    """(B,) losses, (B,) group ids -> (G,) mean loss per group (0 where a group is absent)."""
    sums = torch.zeros(n_groups, device=per_sample.device, dtype=per_sample.dtype).index_add(0, groups, per_sample)
    counts = torch.zeros(n_groups, device=per_sample.device, dtype=per_sample.dtype).index_add(
        0, groups, torch.ones_like(per_sample))
    return sums / counts.clamp_min(1)


class GroupDRO(Strategy):
    name = "group-dro"
    title = "worst-group training (Group DRO)"  # readable label of tables (README, report)
    Config = GroupDROConfig
    knows = "group labels on all training data"

    def __init__(self, cfg, ctx=None):
        super().__init__(cfg, ctx)
        k = self.ctx.num_classes
        n = self.ctx.n_train
        colors = self.ctx.colors if self.ctx.colors is not None else torch.zeros(n, dtype=torch.long)
        labels = self.ctx.labels if self.ctx.labels is not None else torch.zeros(n, dtype=torch.long)
        self.n_groups = k * k
        self.register_buffer("group_of", (labels.long() * k + colors.long()).clone(), persistent=False)
        counts = torch.bincount(self.group_of.cpu(), minlength=self.n_groups).double()
        present = (counts > 0).float()
        # a group with no training image keeps q = 0 (with C > 0 its adjustment alone would draw weight to it)
        self.register_buffer("q", present / present.sum())
        self.register_buffer("adjust", (present * self.cfg.adjustment / counts.clamp_min(1).sqrt()).float(), persistent=False)
        self.row_weight = (1.0 / counts[self.group_of.cpu()])  # (N,) float64 on the CPU: the balanced sampler's weights

    def epoch_indices(self, epoch, generator):
        if self.cfg.sampling == "uniform":
            return None
        return torch.multinomial(self.row_weight, self.row_weight.shape[0], replacement=True, generator=generator)

    def loss(self, model, batch):
        x, y, idx = batch["x"], batch["y"], batch["index"]
        logits = model(x)
        per_sample = F.cross_entropy(logits, y, reduction="none")
        g_loss = group_losses(per_sample, self.group_of[idx], self.n_groups)
        with torch.no_grad():
            q = self.q * torch.exp(self.cfg.eta * (g_loss.detach() + self.adjust))  # as the paper's code: every group
            self.q.copy_(q / q.sum())
        loss = (g_loss * self.q).sum()
        return loss, {"ce": per_sample.mean().item(), "worst_group_loss": g_loss.max().item(),
                      "q_max": self.q.max().item()}


STRATEGY = GroupDRO
