"""Targeted FGSM (Goodfellow et al., ICLR 2015): one signed-gradient step of size eps
that lowers the cross-entropy of the target class. x (B, 3, H, W), target (B,)."""

import torch

from .base import Attack, AttackResult, project, target_loss_grad


class FGSM(Attack):
    name = "fgsm"

    def run(self, model, x, target) -> AttackResult:
        grad, _ = target_loss_grad(model, x, target)
        x_adv = project(x - self.eps * grad.sign(), x, self.eps)
        success, tp, pred = self.evaluate(model, x_adv, target)
        iterations = torch.where(success, 1, 2)
        return AttackResult(x_adv, success, iterations, tp, pred)
