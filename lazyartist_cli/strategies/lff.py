"""``lff``: Learning from Failure (Nam et al., NeurIPS 2020).

Idea: train two models of the same architecture at once. The biased model
is trained with generalised cross-entropy (GCE, q = 0.7), which amplifies the
easy, shortcut-aligned examples, so it becomes a good colour detector. The
debiased model (the one we keep) is trained with cross-entropy weighted per
sample by the relative difficulty W = L_b / (L_b + L_d), where L_b and L_d
are exponential moving averages (0.7) of each sample's loss under the two
models, normalised per class by their maximum (within the batch; the paper
uses the maximum over the whole dataset). Samples the
biased model fails on (the counter-examples) get the weight.

Options: ``q`` (GCE), ``ema`` (loss EMA), uses no bias labels.
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
    p_y = F.softmax(logits, 1).gather(1, y[:, None]).squeeze(1).clamp_min(1e-8)
    return (1 - p_y.pow(q)) / q


class LfF(Strategy):
    name = "lff"
    Config = LfFConfig

    def __init__(self, cfg, model_builder=None, n_train: int = 0):
        super().__init__(cfg)
        if model_builder is None:
            raise ValueError("lff needs a model builder for its biased model")
        self.biased = model_builder()
        self.register_buffer("ema_b", torch.zeros(n_train))
        self.register_buffer("ema_d", torch.zeros(n_train))
        self.register_buffer("seen", torch.zeros(n_train, dtype=torch.bool))

    def _update(self, buf: torch.Tensor, idx: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        seen = self.seen[idx]
        new = torch.where(seen, self.cfg.ema * buf[idx] + (1 - self.cfg.ema) * value, value)
        buf[idx] = new
        return new

    def loss(self, model, batch):
        x, y, idx = batch["x"], batch["y"], batch["index"]
        self.biased.train(model.training)
        logits_d = model(x)
        logits_b = self.biased(x)
        ce_d = F.cross_entropy(logits_d, y, reduction="none")
        ce_b = F.cross_entropy(logits_b, y, reduction="none")
        with torch.no_grad():
            lb = self._update(self.ema_b, idx, ce_b.detach())
            ld = self._update(self.ema_d, idx, ce_d.detach())
            self.seen[idx] = True
            # per-class normalisation by the maximum EMA loss of the class
            max_b = torch.zeros(logits_d.shape[1], device=x.device)
            max_b = max_b.scatter_reduce(0, y, lb, "amax", include_self=True).clamp_min(1e-8)
            max_d = torch.zeros_like(max_b).scatter_reduce(0, y, ld, "amax", include_self=True).clamp_min(1e-8)
            lb_n, ld_n = lb / max_b[y], ld / max_d[y]
            weight = lb_n / (lb_n + ld_n + 1e-8)
        loss = (ce_d * weight).mean() + gce_loss(logits_b, y, self.cfg.q).mean()
        return loss, {"ce": ce_d.mean().item(), "ce_biased": ce_b.mean().item(), "weight": weight.mean().item()}


STRATEGY = LfF
