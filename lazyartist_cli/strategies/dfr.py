"""``dfr``: Deep Feature Reweighting (Kirichenko, Izmailov & Wilson, ICLR 2023), DFR^Val_Tr.

Idea: an ERM model's features already hold the core feature; only its last layer leans on the
shortcut. Retrain the last layer alone on a small group-balanced held-out set.

1. Training: plain ERM (the same loss, batches and checkpoint rule as ``erm``: easy validation
   accuracy), so with the same seed the base model is the baseline's own checkpoint (the official
   code takes the last epoch's model; here the baseline's chosen one, so both are compared on one
   base).
2. After the last epoch, on the chosen checkpoint, the last ``nn.Linear``'s inputs (the features)
   of every validation image are computed. DFR's groups are the paper's, class x spurious
   attribute: here the 100 (class, bias value) groups.
3. Choosing C (official code, ``dfr_on_validation_tune``): validation is split in two random
   halves; on a group-balanced draw from one half, features standardised on that draw, an L1
   logistic regression is fitted for every C of ``c_grid``; the C with the highest worst-group
   accuracy on the other half wins (worst over class x {aligned, conflicting}, the worst-group
   rule's groups: the 100 groups hold 1-12 images each on a 10,000-image val at 0.95, too few
   to score).
4. The last layer (``dfr_on_validation_eval``): features standardised by the training split's
   mean and std (as the code's scaler, fit on the training embeddings), ``refits`` logistic regressions with that C, each on a fresh group-balanced draw from all of
   validation; their coefficients and intercepts are averaged and, with the standardisation folded
   in, replace the last Linear's weight and bias. The rest of the network is unchanged.

The regression is sklearn's ``LogisticRegression(penalty="l1", solver="liblinear")`` objective,
one-vs-rest for ten classes: per class ``||w||_1 + C * sum_i log(1 + exp(-s_i (w.x_i + b)))``,
solved here by FISTA (accelerated proximal gradient) in torch (it reaches liblinear's objective to
1e-7 relative on a 800 x 64 problem). Deviations, deliberate, forced by the size of val's groups:
a balanced draw takes the median group size from every group (the code takes the smallest,
``min_g``, which is 1 here: 100 images), drawing again (with replacement) from a smaller group;
the halves are split within every class x {aligned, conflicting} group, so both hold each
scored group. Also: liblinear penalises the
intercept (here it is free); the tuning split is drawn once (the code's ``num_retrains`` for
tuning is 1 too).

Knows group labels on a small held-out set (validation); nothing of the training set's groups.
Validation is therefore DFR's training data: its easy val accuracy in a table is in-sample.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from pydantic import Field, field_validator

from ..errors import LazyError
from ..metrics import worst_group_accuracy
from .base import Strategy, StrategyConfig

C_GRID = [1.0, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01]  # the official code's C_OPTIONS


class DFRConfig(StrategyConfig):
    c_grid: list[float] = Field(default_factory=lambda: list(C_GRID), min_length=1,
                                description="inverse L1 strengths tried (chosen by worst-group accuracy on a val half)")
    refits: int = Field(20, ge=1, le=1000, description="regressions averaged for the final last layer")
    iterations: int = Field(3000, ge=10, le=100_000, description="FISTA steps per regression")
    c_score: Literal["worst-group", "pooled"] = Field(
        "worst-group", description="how C is scored on the held-out half: worst-group: the worst of class x {aligned, "
        "conflicting} (20 groups); pooled: the worse of all aligned and all conflicting images (2 groups: ranks C when "
        "val holds a few conflicting images per class, e.g. at 0.5-1%)")

    @field_validator("c_grid")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        if any(c <= 0 for c in v):
            raise ValueError("every C must be > 0")
        return v


def last_linear(model: nn.Module) -> nn.Linear:
    """The model's output layer: the last ``nn.Linear`` registered."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("dfr needs a model whose output layer is an nn.Linear")
    return linears[-1]


@torch.no_grad()
def last_layer_inputs(model: nn.Module, x: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """What the output layer receives for every image, (N, d) in float32."""
    layer, feats = last_linear(model), []
    handle = layer.register_forward_hook(lambda m, inp, out: feats.append(inp[0].detach().float().flatten(1)))
    was = model.training
    model.eval()
    try:
        for i in range(0, x.shape[0], batch_size):
            model(x[i : i + batch_size])
    finally:
        handle.remove()
        model.train(was)
    return torch.cat(feats)


def standardizer(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, scale) as sklearn's StandardScaler: population std, and 1 for a constant feature."""
    mean = f.mean(0)
    std = f.std(0, unbiased=False)
    return mean, torch.where(std > 0, std, torch.ones_like(std))


def fit_l1_ovr(x: torch.Tensor, y: torch.Tensor, num_classes: int, c: torch.Tensor | float, iterations: int,
               tol: float = 1e-7) -> tuple[torch.Tensor, torch.Tensor]:
    """One-vs-rest L1 logistic regressions, P problems at once: per problem p and class k, minimise
    ``||w_pk||_1 + c_p * sum_i softplus(-s_ik (x_pi.w_pk + b_pk))`` with s_ik = +1 if y_pi = k else -1, by FISTA
    (step 1/L_p, L_p = c_p * lambda_max([x_p 1]^T [x_p 1]) / 4), stopping early once no weight moves by more than
    ``tol`` (relative). x (P, n, d) or (n, d); y (P, n) or (n,); c (P,) or a float. Returns W (P, K, d), b (P, K)
    (without the P axis for 2-D x)."""
    single = x.dim() == 2
    if single:
        x, y = x.unsqueeze(0), y.unsqueeze(0)
    x = x.double()
    p, n, d = x.shape
    c = torch.as_tensor(c, dtype=x.dtype).reshape(-1).expand(p)
    s = torch.where(F.one_hot(y, num_classes).bool(), 1.0, -1.0).double()  # (P, n, K)
    xa = torch.cat([x, torch.ones(p, n, 1, dtype=x.dtype)], 2)
    xt = xa.transpose(1, 2).contiguous()
    lip = c * torch.linalg.eigvalsh(xt @ xa)[:, -1] / 4.0
    step = (1.0 / lip.clamp_min(1e-12)).view(p, 1, 1)
    cv = c.view(p, 1, 1)
    theta = torch.zeros(p, d + 1, num_classes, dtype=x.dtype)  # last row: the intercepts (not penalised)
    z, t = theta.clone(), 1.0
    for it in range(iterations):
        margin = s * (xa @ z)
        nxt = z - step * cv * (xt @ (-s * torch.sigmoid(-margin)))
        w = nxt[:, :d]
        nxt[:, :d] = torch.sign(w) * (w.abs() - step).clamp_min(0)  # the L1 prox
        t_next = (1.0 + (1.0 + 4.0 * t * t) ** 0.5) / 2.0
        z = nxt + ((t - 1.0) / t_next) * (nxt - theta)
        moved = float((nxt - theta).abs().max()) / max(float(nxt.abs().max()), 1e-12)
        theta, t = nxt, t_next
        if it > 10 and moved < tol:
            break
    w, b = theta[:, :d].transpose(1, 2).float(), theta[:, d].float()
    return (w[0], b[0]) if single else (w, b)


def scored_groups(y: torch.Tensor, bias: torch.Tensor, c_score: str = "worst-group") -> torch.Tensor:
    """The groups C is scored on: class x {aligned, conflicting} (ids class * 2 + conflicting), or pooled over the
    classes, {aligned, conflicting} (ids 0, 1)."""
    conflicting = (bias != y).long()
    return y * 2 + conflicting if c_score == "worst-group" else conflicting


def missing_group(y: torch.Tensor, bias: torch.Tensor, num_classes: int, c_score: str = "worst-group") -> Optional[str]:
    """Why validation cannot serve DFR, or None: every group C is scored on needs two images, one for each half."""
    if c_score == "pooled":
        counts = torch.bincount(scored_groups(y, bias, c_score).cpu(), minlength=2)
        if bool((counts >= 2).all()):
            return None
        return (f"dfr needs at least two validation images of each of aligned and conflicting; val has "
                f"{int(counts[0])} and {int(counts[1])} (raise data.n_val or lower data.correlation)")
    counts = torch.bincount((y * 2 + (bias != y).long()).cpu(), minlength=num_classes * 2)
    if bool((counts >= 2).all()):
        return None
    g = int(torch.nonzero(counts < 2).flatten()[0])
    return (f"dfr needs at least two validation images of every group; class {g // 2} has {int(counts[g])} "
            f"{'conflicting' if g % 2 else 'aligned'} one(s) (raise data.n_val or lower data.correlation)")


def balanced_rows(groups: torch.Tensor, per_group: int, generator: torch.Generator) -> torch.Tensor:
    """``per_group`` rows of every group present: without replacement where the group holds that many, else all of
    its rows and the rest drawn again from them (with replacement)."""
    out = []
    for g in torch.unique(groups).tolist():
        r = torch.nonzero(groups == g).flatten()
        r = r[torch.randperm(len(r), generator=generator)]
        extra = r[torch.randint(len(r), (max(per_group - len(r), 0),), generator=generator)]
        out.append(torch.cat([r[:per_group], extra]))
    return torch.cat(out)


def stratified_halves(groups: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two random halves of the rows, each group split between them (an odd one left over goes to either at random)."""
    a, b = [], []
    for g in torch.unique(groups).tolist():
        r = torch.nonzero(groups == g).flatten()
        r = r[torch.randperm(len(r), generator=generator)]
        cut = len(r) // 2 + (len(r) % 2) * int(torch.randint(2, (1,), generator=generator))
        a.append(r[:cut])
        b.append(r[cut:])
    return torch.cat(a), torch.cat(b)


def fold_standardization(w: torch.Tensor, b: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """A linear layer on raw features equal to (w, b) on standardised ones:
    w.(f - mean)/scale + b = (w/scale).f + (b - (w/scale).mean)."""
    weight = w / scale
    return weight, b - weight @ mean


def dfr_last_layer(feats: torch.Tensor, y: torch.Tensor, bias: torch.Tensor, num_classes: int, cfg: DFRConfig,
                   seed: int, train_feats: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """DFR on held-out features (see the module): C by worst-group accuracy between two halves, then ``refits``
    regressions on group-balanced draws of all of them, averaged, on features standardised by the training split's
    (``train_feats``; None: validation's own). Returns (weight, bias) for the raw features and what was chosen."""
    problem = missing_group(y, bias, num_classes, cfg.c_score)
    if problem:
        raise LazyError(problem)
    gen = torch.Generator().manual_seed(seed * 7_907 + 3)
    fine = y * num_classes + bias  # DFR's groups: (class, bias value)
    coarse = scored_groups(y, bias, cfg.c_score)  # the groups C is scored on

    def per_group(rows: torch.Tensor) -> int:  # the median size of the groups present
        counts = torch.bincount(fine[rows], minlength=num_classes * num_classes)
        return max(1, int(counts[counts > 0].float().median()))

    fit_idx, score_idx = stratified_halves(coarse, gen)  # each scored group in both halves
    sub = fit_idx[balanced_rows(fine[fit_idx], per_group(fit_idx), gen)]
    mean, scale = standardizer(feats[sub])
    k = len(cfg.c_grid)
    ws, bs = fit_l1_ovr(((feats[sub] - mean) / scale).expand(k, -1, -1), y[sub].expand(k, -1), num_classes,
                        torch.tensor(cfg.c_grid), cfg.iterations)
    scores = {}
    for c, w, b in zip(cfg.c_grid, ws, bs):
        pred = (((feats[score_idx] - mean) / scale) @ w.T + b).argmax(1)
        scores[c] = worst_group_accuracy(pred, y[score_idx], coarse[score_idx], int(coarse.max()) + 1)
    best_c = max(cfg.c_grid, key=lambda c: (scores[c], -cfg.c_grid.index(c)))  # a tie: the first in the grid
    mean, scale = standardizer(feats if train_feats is None else train_feats)
    m = per_group(torch.arange(len(y)))
    rows = torch.stack([balanced_rows(fine, m, gen) for _ in range(cfg.refits)])  # (refits, groups * m)
    ws, bs = fit_l1_ovr((feats[rows] - mean) / scale, y[rows], num_classes, best_c, cfg.iterations)
    w, b = ws.mean(0), bs.mean(0)
    weight, bias_out = fold_standardization(w, b, mean, scale)
    info = {"c": best_c, "held_out_worst_group": scores[best_c], "scores": {str(c): v for c, v in scores.items()},
            "per_group": m, "groups": int(torch.unique(fine).numel()), "nonzero_weights": int((w != 0).sum())}
    return weight, bias_out, info


class DFR(Strategy):
    name = "dfr"
    title = "last-layer retraining on group-balanced held-out data (DFR)"  # readable label of tables (README, report)
    Config = DFRConfig
    knows = "group labels on a held-out set"
    refits = True

    @classmethod
    def default_selection(cls, cfg: Optional[StrategyConfig] = None) -> str:
        return "val"  # the base model is ERM's, chosen as ERM's is; C is chosen on held-out worst-group accuracy

    @classmethod
    def check_held_out(cls, cfg, y_val, bias_val, num_classes):
        return missing_group(y_val, bias_val, num_classes, cfg.c_score)

    def loss(self, model, batch):
        ce = F.cross_entropy(model(batch["x"]), batch["y"])
        return ce, {"ce": ce.item()}

    def refit(self, model: nn.Module, x_train: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor,
              bias_val: torch.Tensor, seed: int) -> dict[str, Any]:
        """Replace the model's last layer by DFR's (in place); returns what was chosen."""
        layer = last_linear(model)
        feats = last_layer_inputs(model, x_val).cpu()
        train_feats = last_layer_inputs(model, x_train).cpu()
        weight, bias, info = dfr_last_layer(feats, y_val.cpu(), bias_val.cpu(), self.ctx.num_classes, self.cfg, seed,
                                            train_feats)
        with torch.no_grad():
            layer.weight.copy_(weight.to(layer.weight))
            layer.bias.copy_(bias.to(layer.bias))
        return info


STRATEGY = DFR
