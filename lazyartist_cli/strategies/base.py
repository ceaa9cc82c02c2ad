"""The Strategy base class, its config base and the context every strategy is built with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Optional

import torch
import torch.nn as nn
from pydantic import BaseModel, ConfigDict

# What a strategy knows about the bias (a column of the report's strategy table).
Knowledge = Literal["nothing", "that it is colour", "the colour labels"]


class StrategyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class StrategyContext:
    """Facts about the training set that every strategy receives (DomainBed-style: one
    constructor signature). ``palette`` (K, 3) in [0, 1]; ``labels`` and ``colors`` (N,)
    are the training split's classes and colour indices (only a strategy that knows
    ``the colour labels`` may read ``colors``)."""

    model_builder: Optional[Callable[[], nn.Module]] = None
    n_train: int = 0
    num_classes: int = 10
    palette: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 3))
    labels: Optional[torch.Tensor] = None
    colors: Optional[torch.Tensor] = None


class Strategy(nn.Module):
    name: str = ""
    Config: type[StrategyConfig] = StrategyConfig
    knows: Knowledge = "nothing"
    # Adam's learning rate when train.lr is not given. 1e-3 is Adam's customary default, not tuned on this
    # data (the baseline and every strategy without its own use it); a strategy's own default says in its
    # module how it was picked (never on test_hard). docs/strategies.md lists them.
    default_lr: float = 1e-3
    # True for strategies whose loss differentiates through the input: ``train.precision = "auto"`` keeps them fp32
    input_gradients: bool = False

    def __init__(self, cfg: StrategyConfig, ctx: Optional[StrategyContext] = None):
        super().__init__()
        self.cfg = cfg
        self.ctx = ctx or StrategyContext()

    @classmethod
    def default_selection(cls) -> str:
        """The checkpoint rule a strategy is reported with: a strategy that knows nothing
        about the bias can only use validation accuracy; one that knows the bias is colour
        may use validation images recoloured by colour transforms (no hard data either way)."""
        return "val" if cls.knows == "nothing" else "val-recolored"

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def after_step(self, model: nn.Module) -> None:
        """Called after every optimiser step (e.g. to keep suppressed units at zero); no-op by default."""
