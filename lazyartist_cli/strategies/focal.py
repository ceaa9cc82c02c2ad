"""``focal``: focal loss (Lin et al. 2017), gamma = 2. A documented negative result.

Idea: down-weight well-classified examples by (1 - p_y)^gamma so that the
hard ones (here the colour counter-examples) dominate the gradient. It does
re-weight the counter-examples, but it gives the model no reason to prefer
shape over colour on the 95% aligned majority, so it is expected to help
little on the hard split.
"""

import torch.nn.functional as F
from pydantic import Field

from .base import Strategy, StrategyConfig


class FocalConfig(StrategyConfig):
    gamma: float = Field(2.0, ge=0)


class Focal(Strategy):
    name = "focal"
    title = "focal loss"  # readable label of tables (README, report)
    Config = FocalConfig

    def loss(self, model, batch):
        logits = model(batch["x"])
        logp = F.log_softmax(logits, 1).gather(1, batch["y"][:, None]).squeeze(1)
        loss = (-(1 - logp.exp()).pow(self.cfg.gamma) * logp).mean()
        return loss, {"focal": loss.item()}


STRATEGY = Focal
