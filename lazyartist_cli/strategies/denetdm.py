"""``denetdm``: Debiasing by Network Depth Modulation (Sreelatha et al., NeurIPS 2024; official code
github.com/kadarsh22/DeNetDM, read at 790e363).

A deep network learns the easy bias before a shallow one does. DeNetDM trains the two as a product of experts and
hands what the shallow expert learned to a new network:

1. Stage 1 (epochs 1..K, ``stage1_epochs``): a shallow and a deep MLP branch on the flattened image (the official
   Colored-MNIST pair: 2 and 4 layers of ``width`` units, ReLU after each) share one linear head, and the head reads
   the *sum* of their features: z = W (h_s + h_d) + b, whose softmax is the normalised product of the two experts'
   softmaxes. Plain cross-entropy on z, with L2 weight decay ``stage1_weight_decay`` on the branches and the head
   (the official Adam's coupled decay, written as a loss term). The kept model is not trained.
2. Before epoch K + 1 the stage-1 head is copied into the kept model's head (its last Linear, whose input width must
   be the branches' ``width``); the branches and the stage-1 head are frozen.
3. Stage 2 (epochs K+1..N): the kept model s = W h_t + b trains in a product of experts with the frozen deep branch,
   z = s + W h_d (W the kept head, live), with cross-entropy (weight ``lambda_poe``), plus distillation from the frozen
   shallow branch t = W1 h_s + b1 at temperature T: T^2 * mean_i( - sum_c softmax(t_i / T)_c log softmax(s_i / T)_c )
   (weight ``lambda_dist``). The kept model alone predicts.

Deviations, stated: the official code hands stage 1 over at the epoch whose shallow branch has the best *test*
accuracy on bias-conflicting images (bias labels and the test split) and reports the best *test* epoch of stage 2;
this tool hands over after a fixed K epochs and chooses the kept checkpoint by the run's rule (no test data, no bias
label). The frozen deep branch is the bias proxy of ``val-pseudo-group`` (its prediction, as the official code's
"biased branch"). Knows nothing about the bias.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from pydantic import Field

from ..errors import UsageError
from .base import Strategy, StrategyConfig


class DeNetDMConfig(StrategyConfig):
    stage1_epochs: int = Field(100, ge=1, description="K: epochs of the product-of-experts stage (official: 100)")
    stage1_weight_decay: float = Field(1e-3, ge=0, description="L2 weight decay of stage 1 (official: Adam's 1e-3)")
    shallow_layers: int = Field(2, ge=1, le=16, description="hidden layers of the shallow branch (official: 2)")
    deep_layers: int = Field(4, ge=1, le=16, description="hidden layers of the deep branch (official: 4)")
    width: int = Field(100, ge=1, le=8192, description="units of every branch layer: the kept head's input width")
    temperature: float = Field(2.0, gt=0, description="T of the distillation from the shallow branch")
    lambda_poe: float = Field(1.0, ge=0, description="weight of stage 2's product-of-experts cross-entropy")
    lambda_dist: float = Field(1.0, ge=0, description="weight of stage 2's distillation from the shallow branch")


def _branch(inputs: int, width: int, layers: int) -> nn.Sequential:
    sizes = [inputs] + [width] * layers
    return nn.Sequential(*[m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())])


def _head_of(model: nn.Module) -> nn.Linear:
    """The kept model's last Linear (its head), whose weight the stage-2 product of experts shares."""
    head = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not head:
        raise UsageError("denetdm needs a model that ends in a Linear layer (e.g. train.model = 'mlp-deep')")
    return head[-1]


class DeNetDM(Strategy):
    name = "denetdm"
    title = "hand a shallow expert's view to a new network (DeNetDM)"
    Config = DeNetDMConfig
    bias_proxy = True
    # tune = true: the hand-off after 100 epochs (Colored-MNIST) or 10 (its bFFHQ setting) x the distillation on (its
    # Colored-MNIST and CIFAR settings) or off (bFFHQ); DeNetDM publishes no grid
    tuning = {"strategy.denetdm.stage1_epochs": [100, 10], "strategy.denetdm.lambda_dist": [1.0, 0.0]}

    def __init__(self, cfg, ctx=None):
        super().__init__(cfg, ctx)
        inputs = 3 * 28 * 28
        self.shallow = _branch(inputs, cfg.width, cfg.shallow_layers)
        self.deep = _branch(inputs, cfg.width, cfg.deep_layers)
        self.head1 = nn.Linear(cfg.width, self.ctx.num_classes)
        self.register_buffer("switched", torch.zeros((), dtype=torch.bool))  # stage 2 has begun (survives a resume)
        self._divisor = 1.0
        self._val_groups = None

    @classmethod
    def default_selection(cls, cfg=None):
        return "val-pseudo-group"  # its frozen deep branch is the bias proxy

    @classmethod
    def check_epochs(cls, cfg, epochs):
        if epochs <= cfg.stage1_epochs:
            return (f"train.epochs = {epochs} leaves denetdm no second stage: strategy.denetdm.stage1_epochs = "
                    f"{cfg.stage1_epochs}; train more epochs")
        return None

    @classmethod
    def selectable_epoch(cls, cfg, epoch):
        return epoch > cfg.stage1_epochs  # stage 2: the kept model is training

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) / self._divisor  # the kept model's own input scaling (its input_divisor)

    @torch.no_grad()
    def before_epoch(self, epoch, model, x_train, y_train):
        self._divisor = float(getattr(model, "input_divisor", 1.0))
        head = _head_of(model)
        if head.in_features != self.cfg.width:
            raise UsageError(f"denetdm: the model's head reads {head.in_features} features, the branches give "
                             f"strategy.denetdm.width = {self.cfg.width}; make them equal")
        if epoch > self.cfg.stage1_epochs and not bool(self.switched):
            head.weight.copy_(self.head1.weight)
            head.bias.copy_(self.head1.bias)
            self.switched.fill_(True)

    def loss(self, model, batch):
        x, y = batch["x"], batch["y"]
        c = self.cfg
        f = self._inputs(x)
        if not bool(self.switched):  # stage 1: the two experts and their shared head
            h_s, h_d = self.shallow(f), self.deep(f)
            ce = F.cross_entropy(self.head1(h_s + h_d), y)
            l2 = sum((p.float() ** 2).sum() for m in (self.shallow, self.deep, self.head1) for p in m.parameters())
            return ce + 0.5 * c.stage1_weight_decay * l2, {"ce_poe": ce.item()}
        with torch.no_grad():  # frozen: the deep expert and the shallow teacher
            h_d = self.deep(f)
            t = self.head1(self.shallow(f)).float()
        s = model(x)
        head = _head_of(model)
        z = s.float() + (h_d.float() @ head.weight.float().T)
        ce = F.cross_entropy(z, y)
        T = c.temperature
        dist = T * T * (-(F.softmax(t / T, dim=1) * F.log_softmax(s.float() / T, dim=1)).sum(1)).mean()
        return c.lambda_poe * ce + c.lambda_dist * dist, {"ce_poe": ce.item(), "distill": dist.item()}

    @torch.no_grad()
    def pseudo_groups(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> Optional[torch.Tensor]:
        """label * num_classes + the deep branch's prediction through the stage-1 head (fp32, once it is frozen)."""
        if self._val_groups is not None and self._val_groups[0] is x and self._val_groups[1] is y:
            return self._val_groups[2]
        with torch.autocast(x.device.type, enabled=False):
            pred = torch.cat([self.head1(self.deep(self._inputs(x[i:i + batch_size].float()))).argmax(1)
                              for i in range(0, x.shape[0], batch_size)])
        groups = y * self.ctx.num_classes + pred
        if bool(self.switched):
            self._val_groups = (x, y, groups)
        return groups


STRATEGY = DeNetDM
