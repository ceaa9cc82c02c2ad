"""``spectral-decoupling``: Gradient Starvation (Pezeshki et al., NeurIPS 2021).

Idea: cross-entropy lets one feature that is learned first (here colour)
starve the others of gradient: once colour fits 95% of the data, the logits
grow along it and the loss stops asking for anything else. Spectral
decoupling replaces the usual L2 penalty on the weights with one on the
network's outputs, ``CE + lambda / 2 * ||logits||^2`` (averaged over the
batch), which decouples the learning dynamics of the features so that
learning one does not stop the others. Uses no bias labels.

Not tuned here: the default 0.1 is 0.05 per squared logit. The paper's
Colored-MNIST code (binary, one logit) trains plain ERM for the first ~20% of
steps and then weighs the squared logit about 1:1 with the log-loss, i.e. a
much stronger penalty; ``weight`` reaches that regime at about 2.

Options: ``weight`` (lambda).
"""

import torch.nn.functional as F
from pydantic import Field

from .base import Strategy, StrategyConfig


class SpectralDecouplingConfig(StrategyConfig):
    weight: float = Field(0.1, ge=0, description="lambda of 0.5 * ||logits||^2")


class SpectralDecoupling(Strategy):
    name = "spectral-decoupling"
    title = "logit-norm penalty (spectral decoupling)"  # readable label of tables (README, report)
    Config = SpectralDecouplingConfig

    def loss(self, model, batch):
        logits = model(batch["x"])
        ce = F.cross_entropy(logits, batch["y"])
        sd = 0.5 * logits.pow(2).sum(1).mean()
        loss = ce + self.cfg.weight * sd
        return loss, {"ce": ce.item(), "logit_norm2": sd.item()}


STRATEGY = SpectralDecoupling
