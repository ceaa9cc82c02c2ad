"""The shared bias proxy of the ``val-proxy-group`` checkpoint rule: a rule that reads no bias label and scores
every run on one dataset the same way.

Val accuracy is a poor judge of a debiasing method when val is 95-99.5% bias-aligned: it rewards the shortcut.
The field's bias-unsupervised stand-in for worst-group validation (uLA, Tsirigotis et al. 2023) averages val
accuracy over pseudo-groups (label, a bias proxy's prediction). uLA and our ``val-pseudo-group`` take the proxy
from the method itself (JTT's identification model, uLA's proxy). That cannot score a method without one (ERM)
and makes a method's score depend on its own proxy: a knob that weakens the proxy (groups ~ classes) moves the
score toward plain val accuracy. ``val-proxy-group`` uses one proxy per (dataset, seed), the same for every
method and configuration, so the scores of a tuning grid and of different methods are read on the same groups:

- the proxy is the run's own architecture trained with generalised cross-entropy (GCE, q = 0.7: LfF's and LC's
  recipe for a model that learns the easy, shortcut-aligned examples first) for ``PROXY_EPOCHS`` epochs of
  Adam (lr 1e-3, batch 256) on the training split, in fp32, from an initialisation and a batch order drawn from
  the seed alone (it does not touch the run's random stream, and any method's run at this seed gets the same
  proxy);
- the groups of a val image are (label, the proxy's prediction), K^2 of them; the score is val accuracy
  averaged over the non-empty groups (``metrics.balanced_group_accuracy``).

No bias label is read to train or use it. ``proxy.json`` records, beside the proxy's settings, how often its
prediction equals the bias value on val: a diagnostic for the report (it reads val's bias labels), never a choice.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

import torch
import torch.nn as nn

from ..strategies.lff import gce_loss
from .common import predict

PROXY_EPOCHS = 5
PROXY_Q = 0.7
PROXY_LR = 1e-3
PROXY_BATCH = 256
PROXY_FILE = "proxy.json"  # <run>/proxy.json: the proxy's settings and diagnostics


def train_bias_proxy(builder: Callable[[], nn.Module], x: torch.Tensor, y: torch.Tensor, seed: int,
                     epochs: int = PROXY_EPOCHS, q: float = PROXY_Q, lr: float = PROXY_LR,
                     batch_size: int = PROXY_BATCH) -> nn.Module:
    """A GCE-trained model of ``builder``'s architecture on (x, y), in eval mode; its initialisation and batch order
    depend on ``seed`` only, and the caller's random state is left as it was."""
    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.autocast(x.device.type, enabled=False):
        torch.manual_seed(seed * 7_919 + 4_243)
        model = builder().to(x.device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        order = torch.Generator().manual_seed(seed * 1_000_003 + 77)
        model.train()
        n = x.shape[0]
        for _ in range(epochs):
            perm = torch.randperm(n, generator=order).to(x.device)
            for b in range(0, n, batch_size):
                idx = perm[b : b + batch_size]
                loss = gce_loss(model(x[idx].float()), y[idx], q).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    return model.eval()


def proxy_groups(proxy: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int, batch_size: int) -> torch.Tensor:
    """(N,) group ids label * num_classes + the proxy's prediction."""
    with torch.autocast(x.device.type, enabled=False):
        return y * num_classes + predict(proxy, x.float(), batch_size).argmax(1)


def proxy_options_from(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The run's model options that model ``name`` takes (e.g. input_divisor for an ``mlp`` proxy of an
    ``mlp-disentangle`` run); the others keep the proxy's defaults."""
    from ..models import OPTIONS

    schema = OPTIONS[name][0]
    return {k: v for k, v in options.items() if schema is not None and k in schema.model_fields}


def fit_proxy_groups(proxy_model: str, input_mode: str, run_model: str, run_options: dict[str, Any],
                     x_tr: torch.Tensor, y_tr: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor,
                     bias_val: torch.Tensor, seed: int, num_classes: int, batch_size: int,
                     proxy_options: Optional[dict[str, Any]] = None) -> tuple[torch.Tensor, dict[str, Any]]:
    """The val pseudo-groups of the seed's proxy (network ``proxy_model``, given ``proxy_options``, else the run's model
    options it takes), and what ``proxy.json`` records of it."""
    from ..models import build_model, resolve_options

    if proxy_options is not None:
        options = resolve_options(proxy_model, proxy_options)
    else:
        options = run_options if proxy_model == run_model else proxy_options_from(proxy_model, run_options)
    t0 = time.perf_counter()
    proxy = train_bias_proxy(lambda: build_model(proxy_model, input=input_mode, options=options), x_tr, y_tr, seed)
    groups = proxy_groups(proxy, x_val, y_val, num_classes, batch_size)
    pred = groups % num_classes
    info = {"model": proxy_model, "model_options": resolve_options(proxy_model, options), "epochs": PROXY_EPOCHS,
            "q": PROXY_Q, "lr": PROXY_LR, "batch_size": PROXY_BATCH, "seconds": round(time.perf_counter() - t0, 3),
            "val_label_acc": (pred == y_val).float().mean().item(),
            "groups_present": int(torch.unique(groups).numel()),
            # diagnostic only (reads val's bias labels; nothing is chosen on it)
            "val_predicts_bias": (pred == bias_val).float().mean().item()}
    return groups, info
