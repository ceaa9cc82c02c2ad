"""Strategy family: how a model is trained. One module per strategy, an explicit registry.

A strategy is an ``nn.Module`` (so extra models and buffers it keeps, such as
LfF's biased model, are checkpointed and optimised with the main model) with
one verb::

    Strategy.loss(model, batch) -> (loss, logs)

``batch`` holds ``x`` (B, 3, H, W) in [0, 1], ``y`` (B,) and ``index`` (B,)
(row indices into the training split). No strategy may turn inputs to
grayscale or change the stored dataset. Each strategy has a pydantic config
class (``extra="forbid"``) read from the run file's ``[strategy.<name>]``.
"""

from __future__ import annotations

from typing import Callable

from ..errors import UsageError
from .base import Strategy, StrategyConfig

STRATEGIES: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    name = cls.name
    if name in STRATEGIES:
        raise ValueError(f"strategy {name!r} is registered twice")
    STRATEGIES[name] = cls
    return cls


def get_strategy(name: str) -> type[Strategy]:
    if name not in STRATEGIES:
        raise UsageError(f"unknown strategy {name!r}; valid: {', '.join(sorted(STRATEGIES))}")
    return STRATEGIES[name]


def build_strategy(name: str, cfg: StrategyConfig, model_builder: Callable, n_train: int) -> Strategy:
    return get_strategy(name)(cfg, model_builder=model_builder, n_train=n_train)


from . import color_entropy, consistency, erm, focal, input_gradient, lff  # noqa: E402,F401

for _mod in (erm, consistency, input_gradient, lff, color_entropy, focal):
    register(_mod.STRATEGY)
