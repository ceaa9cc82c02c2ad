"""Strategy family: how a model is trained. One module per strategy, an explicit registry.

A strategy is an ``nn.Module`` (so extra models and buffers it keeps, such as
LfF's biased model, are checkpointed and optimised with the main model) with
one verb::

    Strategy.loss(model, batch) -> (loss, logs)

Every strategy is built as ``Strategy(cfg, ctx)`` with a ``StrategyContext``
(model builder, training-set size, palette, labels, colour indices) and says
what it ``knows`` about the bias. ``batch`` holds ``x`` (B, 3, H, W) in [0, 1], ``y`` (B,) and ``index`` (B,)
(row indices into the training split). No strategy may turn inputs to
grayscale or change the stored dataset. Each strategy has a pydantic config
class (``extra="forbid"``) read from the run file's ``[strategy.<name>]``.
"""

from __future__ import annotations

from ..errors import UsageError
from .base import Strategy, StrategyConfig, StrategyContext

STRATEGIES: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    name = cls.name
    if name in STRATEGIES:
        raise ValueError(f"strategy {name!r} is registered twice")
    if not cls.title:
        raise ValueError(f"strategy {name!r} has no title (the readable label of the tables)")
    STRATEGIES[name] = cls
    return cls


def get_strategy(name: str) -> type[Strategy]:
    if name not in STRATEGIES:
        raise UsageError(f"unknown strategy {name!r}; valid: {', '.join(sorted(STRATEGIES))}")
    return STRATEGIES[name]


def build_strategy(name: str, cfg: StrategyConfig, ctx: StrategyContext) -> Strategy:
    return get_strategy(name)(cfg, ctx)


from . import (  # noqa: E402,F401
    color_entropy, consistency, consistency_input_gradient, denetdm, dfa, dfr, erm, focal, group_dro, input_gradient, jtt, lc, lff, neuron_suppression,
    spectral_decoupling, ula,
)

for _mod in (erm, consistency, input_gradient, consistency_input_gradient, lff, color_entropy, focal, spectral_decoupling,
             group_dro, neuron_suppression, jtt, dfr, ula, dfa, lc, denetdm):
    register(_mod.STRATEGY)
