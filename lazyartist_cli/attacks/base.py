"""Shared pieces of targeted attacks: projection, success test, mode handling."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models import INFERENCE_BATCH, eval_mode
from ..precision import autocast, resolve_precision


@dataclass
class AttackResult:
    x_adv: torch.Tensor  # (B, 3, H, W) in [0, 1], within eps of x
    success: torch.Tensor  # (B,) bool: prediction == target with confidence >= threshold
    iterations: torch.Tensor  # (B,) steps taken until success (steps + 1 when never)
    target_prob: torch.Tensor  # (B,) final probability of the target class
    pred: torch.Tensor  # (B,)


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """Onto the L-inf ball of radius eps around x, then onto [0, 1] (the intersection: both are boxes)."""
    return torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0.0, 1.0)


def target_loss_grad(model: nn.Module, x: torch.Tensor, target: torch.Tensor,
                     precision: str = "fp32") -> tuple[torch.Tensor, torch.Tensor]:
    """(d CE(model(x), target) / dx, probabilities at x); the forward and backward in ``precision`` (bf16: autocast,
    the gradient returned in fp32 like x)."""
    x = x.detach().requires_grad_(True)
    with autocast(precision, x.device):
        logits = model(x).float()
    (grad,) = torch.autograd.grad(F.cross_entropy(logits, target, reduction="sum"), x)
    return grad, logits.detach().softmax(1)


class Attack:
    name = ""

    batch_size = INFERENCE_BATCH  # images attacked together: large enough to amortise per-step overheads, small enough to stay in cache
    precision = "fp32"  # of the gradient steps (``[attack] precision``; "auto" resolved per device when the attack runs)

    @classmethod
    def from_config(cls, a, eps: float, seed: int = 0, steps: int | None = None) -> "Attack":
        """Build from the ``[attack]`` options (any object with the attributes the method reads) at budget
        ``eps``; ``a.batch_size`` 0 attacks every image in one batch."""
        attack = cls._construct(a, eps, seed, steps)
        attack.batch_size = a.batch_size or 1 << 62
        attack.precision = getattr(a, "precision", "fp32")
        return attack

    @classmethod
    def _construct(cls, a, eps: float, seed: int, steps: int | None) -> "Attack":
        return cls(eps=eps, confidence=a.confidence)

    def __init__(self, eps: float = 0.05, confidence: float = 0.9):
        self.eps = eps
        self.confidence = confidence

    def run(self, model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> AttackResult:
        raise NotImplementedError

    def step_precision(self, x: torch.Tensor) -> str:
        return resolve_precision(self.precision, x.device)

    def __call__(self, model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> AttackResult:
        with eval_mode(model):
            bs = self.batch_size
            if x.shape[0] <= bs:
                return self.run(model, x.detach(), target)
            parts = [self.run(model, x[i : i + bs].detach(), target[i : i + bs]) for i in range(0, x.shape[0], bs)]
            return AttackResult(*(torch.cat([getattr(p, f.name) for p in parts]) for f in fields(AttackResult)))

    def succeeded(self, probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(B,) bool: the prediction is the target with probability >= confidence."""
        tp = probs.gather(1, target[:, None])[:, 0]
        return (probs.argmax(1) == target) & (tp >= self.confidence)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, x_adv: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        probs = model(x_adv).softmax(1)
        return self.succeeded(probs, target), probs.gather(1, target[:, None])[:, 0], probs.argmax(1)
