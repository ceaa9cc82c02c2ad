"""Neuron selectivity: is a unit tuned to colour, to shape, to both, or to nothing?

Stimuli: D digits (``per_class`` of each class) each recoloured to all K
palette colours, so responses form R (D, K, U). For each unit:

* colour score = mean over digits of the variance across colours,
  divided by the total variance of R (the share of variance that colour
  explains with the digit held fixed);
* shape score = mean over colours of the variance across digit classes of
  the class-mean response, divided by the total variance (the share that
  the class explains with the colour held fixed);
* solid-colour score (reported): the variance of the responses to the K
  solid palette images divided by (that variance + the total variance).

Labels (thresholds ``TAU`` = 0.25, ``WEAK`` = 1% of the layer's largest
response spread): ``weak/dead`` when the unit's standard deviation is below
WEAK, else ``colour`` when only the colour score reaches TAU, ``shape`` when
only the shape score does, ``polysemantic`` when both do, ``weak/dead``
when neither does.
"""

from __future__ import annotations

import torch

TAU = 0.25
WEAK = 0.01
LABELS = ("colour", "shape", "polysemantic", "weak/dead")


def selectivity_scores(
    responses: torch.Tensor, labels: torch.Tensor, solid: torch.Tensor | None = None, n_classes: int = 10
) -> dict[str, torch.Tensor]:
    """responses (D, K, U); labels (D,); solid (K, U) or None. Returns per-unit scores and label indices."""
    r = responses.double()
    d, k, u = r.shape
    total = r.reshape(d * k, u).var(0, unbiased=False)  # (U,)
    colour = r.var(1, unbiased=False).mean(0) / total.clamp_min(1e-12)
    onehot = torch.nn.functional.one_hot(labels, n_classes).double()  # (D, C)
    counts = onehot.sum(0).clamp_min(1)
    class_means = torch.einsum("dc,dku->cku", onehot, r) / counts[:, None, None]  # (C, K, U)
    present = onehot.sum(0) > 0
    shape = class_means[present].var(0, unbiased=False).mean(0) / total.clamp_min(1e-12)
    std = total.sqrt()
    weak = std < WEAK * std.max().clamp_min(1e-12)
    is_c, is_s = colour >= TAU, shape >= TAU
    label = torch.full((u,), 3, dtype=torch.long)
    label[is_c & ~is_s] = 0
    label[is_s & ~is_c] = 1
    label[is_c & is_s] = 2
    label[weak] = 3
    out = {"colour": colour.float(), "shape": shape.float(), "std": std.float(), "label": label}
    if solid is not None:
        sv = solid.double().var(0, unbiased=False)
        out["solid_colour"] = (sv / (sv + total).clamp_min(1e-12)).float()
    return out
