"""``lff``: Learning from Failure (Nam et al., NeurIPS 2020).

Idea: train two models of the same architecture at once. The biased model
is trained with generalised cross-entropy (GCE, q = 0.7), which amplifies the
easy, shortcut-aligned examples, so it becomes a good colour detector. The
debiased model (the one we keep) is trained with cross-entropy weighted per
sample by the relative difficulty W = L_b / (L_b + L_d), where L_b and L_d
are exponential moving averages (0.7) of each sample's loss under the two
models, each divided by the maximum EMA loss of the sample's class over the
whole training set (as in the paper's code; a per-batch maximum, with ~13
images of a class per batch of 128, often has no counter-example of the class and
drifts toward ERM). Samples the biased model fails on (the counter-examples)
get the weight.

Options: ``q`` (GCE), ``ema`` (loss EMA). Uses no bias labels.
"""

import torch
import torch.nn.functional as F
from pydantic import Field

from .base import Strategy, StrategyConfig


class LfFConfig(StrategyConfig):
    q: float = Field(0.7, gt=0, le=1)
    ema: float = Field(0.7, ge=0, lt=1)


def gce_loss(logits: torch.Tensor, y: torch.Tensor, q: float) -> torch.Tensor:
    """Generalised cross-entropy (Zhang & Sabuncu 2018), per sample: (1 - p_y^q) / q."""
    p_y = F.softmax(logits.float(), 1).gather(1, y[:, None]).squeeze(1).clamp_min(1e-8)  # fp32 under bf16 autocast
    return (1 - p_y.pow(q)) / q


def class_max(values: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(N,) values, (N,) labels -> (num_classes,) maximum value per class (0 for an empty class)."""
    out = torch.zeros(num_classes, device=values.device, dtype=values.dtype)
    return out.scatter_reduce(0, labels, values, "amax", include_self=True)


class LfF(Strategy):
    name = "lff"
    title = "learning from a biased model's failures (LfF)"  # readable label of tables (README, report)
    Config = LfFConfig
    # tune = true: GCE's q (the paper's 0.7; 0.8 an alternative) and Adam's rate (the paper's 1e-3 and 1e-2); LfF
    # publishes no grid
    tuning = {"strategy.lff.q": [0.7, 0.8], "train.lr": [0.001, 0.01]}

    def __init__(self, cfg, ctx=None):
        super().__init__(cfg, ctx)
        self.biased = self.own_model("biased model")
        register_loss_emas(self, self.ctx.n_train, self.ctx.labels)

    def loss(self, model, batch):
        x, y, idx = batch["x"], batch["y"], batch["index"]
        self.biased.train(model.training)
        logits_d = model(x)
        logits_b = self.biased(x)
        ce_d = F.cross_entropy(logits_d, y, reduction="none")
        ce_b = F.cross_entropy(logits_b, y, reduction="none")
        weight = relative_difficulty(self, idx, y, ce_b, ce_d, self.cfg.ema, logits_d.shape[1])
        loss = (ce_d * weight).mean() + gce_loss(logits_b, y, self.cfg.q).mean()
        return loss, {"ce": ce_d.mean().item(), "ce_biased": ce_b.mean().item(), "weight": weight.mean().item()}


@torch.no_grad()
def relative_difficulty(owner: torch.nn.Module, idx: torch.Tensor, y: torch.Tensor, ce_b: torch.Tensor,
                        ce_d: torch.Tensor, ema: float, num_classes: int) -> torch.Tensor:
    """LfF's per-sample weight W = L_b / (L_b + L_d) (DFA uses the same): L_b and L_d are exponential moving averages
    (decay ``ema``) of each training image's loss under the biased and the debiased model (the first visit sets it),
    each divided by the maximum EMA loss of the image's class over the whole training set. ``owner`` holds the
    buffers ``ema_b``, ``ema_d`` (N,), ``seen`` (N,) bool and ``labels`` (N,), updated in place."""
    seen = owner.seen[idx]
    lb = torch.where(seen, ema * owner.ema_b[idx] + (1 - ema) * ce_b.detach(), ce_b.detach())
    ld = torch.where(seen, ema * owner.ema_d[idx] + (1 - ema) * ce_d.detach(), ce_d.detach())
    owner.ema_b[idx] = lb
    owner.ema_d[idx] = ld
    owner.seen[idx] = True
    max_b = class_max(owner.ema_b, owner.labels, num_classes).clamp_min(1e-8)
    max_d = class_max(owner.ema_d, owner.labels, num_classes).clamp_min(1e-8)
    lb_n, ld_n = lb / max_b[y], ld / max_d[y]
    return lb_n / (lb_n + ld_n + 1e-8)


def register_loss_emas(owner: torch.nn.Module, n: int, labels) -> None:
    """The buffers ``relative_difficulty`` reads and updates, for ``n`` training images with ``labels``."""
    owner.register_buffer("ema_b", torch.zeros(n))
    owner.register_buffer("ema_d", torch.zeros(n))
    owner.register_buffer("seen", torch.zeros(n, dtype=torch.bool))
    labels = labels if labels is not None else torch.zeros(n, dtype=torch.long)
    owner.register_buffer("labels", labels.clone().long(), persistent=False)


STRATEGY = LfF
