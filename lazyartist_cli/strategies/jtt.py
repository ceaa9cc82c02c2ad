"""``jtt``: Just Train Twice (Liu et al., ICML 2021).

Idea: a model trained with plain ERM for a short while gets the shortcut's
counter-examples wrong; train a second model with those errors upsampled.

1. Identification: for the first ``identify_epochs`` epochs (T in the paper) an
   identification model of the same architecture is trained with ERM (the model
   we keep is not trained, and no checkpoint of it is selected).
2. Before epoch T + 1 its training errors form the error set E.
3. The kept model, freshly initialised, trains for the remaining epochs on the
   training set with every image of E appearing ``upweight`` times in each epoch
   (lambda_up in the paper; duplicated rows, as in the paper's code, not loss weights;
   the code appends lambda_up extra copies, so there each error appears lambda_up + 1
   times, here lambda_up times, the paper's objective).

Deviations from the official code, deliberate: the error set comes from an eval-mode
pass after epoch T (the code records predictions during epoch T's own training pass,
in train mode); the history logs the untrained kept model for epochs 1..T.

Knows nothing about the bias: no bias labels, no transform. The paper tunes T and
lambda_up on worst-group validation accuracy (group labels on val); here, with no
group labels, the checkpoint is chosen on easy validation accuracy and T, lambda_up
keep the values below, so its results hold "as configured".

Options: ``identify_epochs`` (T), ``upweight`` (lambda_up).
"""

import torch
import torch.nn.functional as F
from pydantic import Field

from .base import Strategy, StrategyConfig


class JTTConfig(StrategyConfig):
    identify_epochs: int = Field(1, ge=1, le=1000, description="T: ERM epochs of the identification model")
    upweight: int = Field(20, ge=1, le=1000, description="lambda_up: copies of each error-set image per epoch")
    batch_size: int = Field(1024, ge=1, description="images per forward pass when the error set is scored")


class JTT(Strategy):
    name = "jtt"
    Config = JTTConfig

    def __init__(self, cfg, ctx=None):
        super().__init__(cfg, ctx)
        if self.ctx.model_builder is None:
            raise ValueError("jtt needs a model builder for its identification model")
        self.identifier = self.ctx.model_builder()
        self.register_buffer("errors", torch.zeros(self.ctx.n_train, dtype=torch.bool))
        self.register_buffer("identified", torch.zeros((), dtype=torch.bool))

    @classmethod
    def check_epochs(cls, cfg, epochs):
        if epochs <= cfg.identify_epochs:
            return (f"train.epochs = {epochs} leaves jtt no second stage: strategy.jtt.identify_epochs = "
                    f"{cfg.identify_epochs}; train more epochs")
        return None

    def _stage(self, epoch: int) -> int:
        return 1 if epoch <= self.cfg.identify_epochs else 2

    @torch.no_grad()
    def before_epoch(self, epoch, model, x_train, y_train):
        if self._stage(epoch) == 1 or bool(self.identified):
            return
        was = self.identifier.training
        self.identifier.eval()
        wrong = [self.identifier(x_train[i : i + self.cfg.batch_size]).argmax(1) != y_train[i : i + self.cfg.batch_size]
                 for i in range(0, x_train.shape[0], self.cfg.batch_size)]
        self.identifier.train(was)
        self.errors.copy_(torch.cat(wrong))
        self.identified.fill_(True)

    def epoch_indices(self, epoch, generator):
        if self._stage(epoch) == 1:
            return None
        n = self.ctx.n_train
        err = torch.nonzero(self.errors.cpu()).flatten()
        rows = torch.cat([torch.arange(n), err.repeat(self.cfg.upweight - 1)])
        return rows[torch.randperm(rows.shape[0], generator=generator)]

    def selectable(self, epoch):
        return self._stage(epoch) == 2

    def loss(self, model, batch):
        x, y = batch["x"], batch["y"]
        if not bool(self.identified):  # stage 1: only the identification model learns
            self.identifier.train(model.training)
            ce = F.cross_entropy(self.identifier(x), y)
            return ce, {"ce_identifier": ce.item()}
        ce = F.cross_entropy(model(x), y)
        return ce, {"ce": ce.item(), "error_set": float(self.errors.sum())}


STRATEGY = JTT
