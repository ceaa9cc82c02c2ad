"""``erm``: plain cross-entropy (empirical risk minimisation), the baseline.

On a 95%-correlated dataset ERM takes whatever feature is cheapest to fit;
for ``lazy-cnn`` that is colour, so it fails on the hard split.
"""

import torch.nn.functional as F

from .base import Strategy, StrategyConfig


class ERMConfig(StrategyConfig):
    pass


class ERM(Strategy):
    name = "erm"
    title = "plain cross-entropy"  # readable label of tables (README, report)
    Config = ERMConfig
    # the baseline's grid, as many configurations as any method's (a sweep file with tune = true): Adam's rate and weight
    # decay, the knobs every method here shares
    tuning = {"train.lr": [0.001, 0.01], "train.weight_decay": [0.0, 0.0001]}

    def loss(self, model, batch):
        logits = model(batch["x"])
        loss = F.cross_entropy(logits, batch["y"])
        return loss, {"ce": loss.item()}


STRATEGY = ERM
