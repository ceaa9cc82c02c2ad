"""Targeted PGD (Madry et al., ICLR 2018) in L-infinity, batched with per-sample early stop.

Each step moves every still-unsuccessful image by ``step`` along the sign of
the gradient that lowers the target's cross-entropy, then projects onto the
eps-ball around the original and onto [0, 1]. An image stops as soon as the
target class has probability >= ``confidence`` (its iteration count is
recorded). Optional uniform random start inside the ball. x (B, 3, H, W).
With ``precision = "bf16"`` (``[attack] precision = "auto"`` on hardware with
native bf16) each step's forward and backward run in bf16 autocast; an image
stops early only when an fp32 forward agrees that it succeeded, and the final
success is decided in fp32, so the reported rates are fp32 facts about
adversarial images found with a lower-precision gradient.
"""

import torch

from .base import Attack, AttackResult, project, target_loss_grad


class PGD(Attack):
    name = "pgd"

    @classmethod
    def _construct(cls, a, eps: float, seed: int, steps: int | None) -> "PGD":
        return cls(eps=eps, confidence=a.confidence, step=a.step, steps=steps or a.steps, random_start=a.random_start, seed=seed)

    def __init__(self, eps: float = 0.05, confidence: float = 0.9, step: float = 0.01, steps: int = 100,
                 random_start: bool = False, seed: int = 0):
        super().__init__(eps, confidence)
        self.step, self.steps, self.random_start, self.seed = step, steps, random_start, seed

    def run(self, model, x, target) -> AttackResult:
        x_adv = x.clone()
        if self.random_start:
            gen = torch.Generator().manual_seed(self.seed)
            noise = (torch.rand(x.shape, generator=gen) * 2 - 1).to(x.device) * self.eps
            x_adv = project(x + noise, x, self.eps)
        precision = self.step_precision(x)
        b = x.shape[0]
        iterations = torch.full((b,), self.steps + 1, dtype=torch.long, device=x.device)
        active = torch.arange(b, device=x.device)
        # One forward pass per step: the logits that give the gradient at step `it`
        # also say which images already succeeded after step `it - 1`.
        for it in range(self.steps + 1):
            if active.numel() == 0:
                break
            whole = active.numel() == b
            xa = x_adv if whole else x_adv[active]
            ta = target if whole else target[active]
            if it == self.steps:  # the last check needs no gradient
                ok, _, _ = self.evaluate(model, xa, ta)
                iterations[active[ok]] = it
                break
            grad, probs = target_loss_grad(model, xa, ta, precision)
            ok = self.succeeded(probs, ta)
            if precision != "fp32" and ok.any():  # a low-precision success stops an image only if fp32 agrees
                ok[ok.clone()] = self.evaluate(model, xa[ok], ta[ok])[0]
            if ok.any():
                iterations[active[ok]] = it
                keep = ~ok
                active, xa, grad, ta = active[keep], xa[keep], grad[keep], ta[keep]
                whole = False
            stepped = project(xa - self.step * grad.sign(), x if whole else x[active], self.eps)
            if whole:
                x_adv = stepped
            else:
                x_adv[active] = stepped
        success, tp, pred = self.evaluate(model, x_adv, target)
        return AttackResult(x_adv, success, iterations, tp, pred)
