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
in train mode); one learning-rate schedule spans both stages (the paper trains the two
models separately; the default `constant` schedule is unaffected); the history logs the
untrained kept model for epochs 1..T.

Knows nothing about the bias: no bias labels, no transform. The paper chooses T, lambda_up
and the checkpoint on worst-group validation accuracy (group labels on val). Here, with no
group labels, the checkpoint is chosen by ``val-pseudo-group``: val accuracy averaged over
the groups (label, the frozen identification model's prediction), uLA's bias-unsupervised
stand-in for worst-group val (``two_stage.py``). Easy val accuracy (``val``) would reward
the shortcut on a val split that is 95-99% bias-aligned, choosing an early, biased epoch.
T keeps the value below, not tuned; a sweep file may let this same rule choose lambda_up
(its `choose` key: experiments/suite-1pct.toml tries {20, 100}, the ends of the official
code's grid {20, 50, 100}); elsewhere it keeps 20, "as configured".

Options: ``identify_epochs`` (T), ``upweight`` (lambda_up).
"""

import torch
import torch.nn.functional as F
from pydantic import Field

from .base import StrategyConfig
from .two_stage import TwoStageStrategy


class JTTConfig(StrategyConfig):
    identify_epochs: int = Field(1, ge=1, le=1000, description="T: ERM epochs of the identification model")
    upweight: int = Field(20, ge=1, le=1000, description="lambda_up: copies of each error-set image per epoch")
    batch_size: int = Field(1024, ge=1, description="images per forward pass when the error set is scored")


class JTT(TwoStageStrategy):
    name = "jtt"
    title = "upweight the errors of a first model (JTT)"  # readable label of tables (README, report)
    Config = JTTConfig
    # tune = true: lambda_up at the ends of the official grid {20, 50, 100}, and T = 1 or 2 epochs
    tuning = {"strategy.jtt.upweight": [20, 100], "strategy.jtt.identify_epochs": [1, 2]}
    helper_name = "identifier"
    helper_role = "identification model"
    frozen_name = "identified"
    stage_option = "identify_epochs"

    def __init__(self, cfg, ctx=None):
        super().__init__(cfg, ctx)
        self.register_buffer("errors", torch.zeros(self.ctx.n_train, dtype=torch.bool))

    def freeze(self, x_train, y_train):
        self.errors.copy_(self.helper_probs(x_train, self.cfg.batch_size).argmax(1) != y_train)

    def epoch_indices(self, epoch, generator):
        if self._stage(epoch) == 1:
            return None
        n = self.ctx.n_train
        err = torch.nonzero(self.errors.cpu()).flatten()
        rows = torch.cat([torch.arange(n), err.repeat(self.cfg.upweight - 1)])
        return rows[torch.randperm(rows.shape[0], generator=generator)]

    def stage_two_loss(self, model, batch):
        ce = F.cross_entropy(model(batch["x"]), batch["y"])
        return ce, {"ce": ce.item(), "error_set": float(self.errors.sum())}


STRATEGY = JTT
