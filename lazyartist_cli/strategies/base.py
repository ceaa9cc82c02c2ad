"""The Strategy base class, its config base and the context every strategy is built with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Optional

import torch
import torch.nn as nn
from pydantic import BaseModel, ConfigDict

# What a strategy knows about the bias (a column of the report's tables), weakest first:
# nothing; the shortcut's type (e.g. "it is colour": colour-generic transforms or penalties);
# the generator (its own transform, e.g. the ``stroke`` recolouring of the foreground protocol);
# group labels (class x bias value) on a small held-out set; group labels on all training data.
Knowledge = Literal["nothing", "the shortcut's type", "the generator", "group labels on a held-out set",
                    "group labels on all training data"]
KNOWLEDGE: tuple[str, ...] = ("nothing", "the shortcut's type", "the generator", "group labels on a held-out set",
                              "group labels on all training data")


def effective_knowledge(knows: str, rule: str) -> str:
    """What a run knows once its checkpoint rule is counted: a rule reads what it needs (group labels of val
    for ``val-worst-group``; that the shortcut is colour for ``val-recolored``), so a run chosen by a stronger
    rule than its strategy's own knows that much."""
    implied = {"val-worst-group": "group labels on a held-out set", "val-recolored": "the shortcut's type"}.get(rule)
    if implied is None or KNOWLEDGE.index(knows) >= KNOWLEDGE.index(implied):
        return knows
    return implied


class StrategyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


@dataclass
class StrategyContext:
    """Facts about the training set that every strategy receives (DomainBed-style: one
    constructor signature). ``palette`` (K, 3) in [0, 1]; ``labels`` and ``colors`` (N,)
    are the training split's classes and bias values (the colour index on a colour protocol;
    only a strategy that knows group labels on all training data may read ``colors``)."""

    model_builder: Optional[Callable[[], nn.Module]] = None
    n_train: int = 0
    num_classes: int = 10
    palette: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 3))
    labels: Optional[torch.Tensor] = None
    colors: Optional[torch.Tensor] = None


class Strategy(nn.Module):
    name: str = ""
    title: str = ""  # a few readable words for tables: what the strategy does
    Config: type[StrategyConfig] = StrategyConfig
    knows: Knowledge = "nothing"
    # Adam's learning rate when train.lr is not given. 1e-3 is Adam's customary default, not tuned on this
    # data (the baseline and every strategy without its own use it); a strategy's own default says in its
    # module how it was picked (never on test_hard). docs/strategies.md lists them.
    default_lr: float = 1e-3
    # True for strategies that change the chosen checkpoint's model after training (``refit``)
    refits: bool = False
    # True for strategies that train a bias proxy (``pseudo_groups``): the ``val-pseudo-group`` rule needs one
    bias_proxy: bool = False
    # True for strategies whose loss differentiates through the input: ``train.precision = "auto"`` keeps them fp32
    input_gradients: bool = False
    # the models this strategy trains, which no other strategy trains (e.g. dfa: its two-encoder ``mlp-disentangle``
    # and ``lazy-cnn-disentangle``); empty: any model
    requires_model: tuple[str, ...] = ()
    # the learning rate of the strategy's own parameters (its extra models) relative to train.lr (LC: 0.1)
    own_lr_scale: float = 1.0
    # the method's knobs to tune, each with the values of its official grid, the default first: ``strategy.<name>.<option>``
    # or ``train.*`` keys (a sweep file with ``tune = true`` trains each and lets the bias-unsupervised rule choose)
    tuning: dict[str, list] = {}

    def __init__(self, cfg: StrategyConfig, ctx: Optional[StrategyContext] = None):
        super().__init__()
        self.cfg = cfg
        self.ctx = ctx or StrategyContext()

    def own_model(self, role: str) -> nn.Module:
        """A new model of the kept one's architecture for the strategy's own use (its ``role``: e.g. LfF's biased model)."""
        if self.ctx.model_builder is None:
            raise ValueError(f"{self.name} needs a model builder for its {role}")
        return self.ctx.model_builder()

    @classmethod
    def knowledge(cls, cfg: Optional[StrategyConfig] = None, protocol: Optional[str] = None) -> str:
        """What this strategy, with these options, knows about the bias on ``protocol`` (None: the protocol it
        was designed for), one of ``KNOWLEDGE``."""
        return cls.knows

    @classmethod
    def default_selection(cls, cfg: Optional[StrategyConfig] = None) -> str:
        """The checkpoint rule a strategy is reported with, the strongest its knowledge allows
        (never hard data): knowing nothing, validation accuracy; knowing the shortcut is colour (or
        its generator), validation images recoloured by colour transforms; knowing group labels,
        the worst group's validation accuracy (groups = class x bias value)."""
        knows = cls.knowledge(cfg)
        if knows == "nothing":
            return "val"
        if knows.startswith("group labels"):
            return "val-worst-group"
        return "val-recolored"

    @classmethod
    def check_epochs(cls, cfg: StrategyConfig, epochs: int) -> Optional[str]:
        """An error message when ``epochs`` cannot work with these options (None: fine)."""
        return None

    @classmethod
    def check_held_out(cls, cfg: StrategyConfig, y_val: torch.Tensor, bias_val: torch.Tensor,
                       num_classes: int) -> Optional[str]:
        """An error message when the validation split cannot serve this strategy's ``refit`` (None: fine)."""
        return None

    def lr_multiplier(self, step: int) -> Optional[float]:
        """The learning rate at optimiser step ``step`` (0-based, over the whole run) as a multiple of train.lr, when the
        method owns its schedule (DFA's step decay); None: train.schedule decides."""
        return None

    def before_epoch(self, epoch: int, model: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor) -> None:
        """Called before every epoch with the whole training split (e.g. JTT builds its error set); no-op by default."""

    def epoch_indices(self, epoch: int, generator: torch.Generator) -> Optional[torch.Tensor]:
        """The training rows of epoch ``epoch`` in order (rows may repeat), drawn from ``generator`` only
        (a resumed run sees the same batches); None: a random permutation of every row (the default)."""
        return None

    @classmethod
    def selectable_epoch(cls, cfg: StrategyConfig, epoch: int) -> bool:
        """Whether the model after ``epoch`` may be chosen as the checkpoint under options ``cfg`` (False while a
        strategy has not started training it, e.g. JTT's identification epochs); read from the options alone, so a
        replay of a stored history (``selection.replay_choice``) asks the same as training."""
        return True

    def selectable(self, epoch: int) -> bool:
        """``selectable_epoch`` under this strategy's options."""
        return self.selectable_epoch(self.cfg, epoch)

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def refit(self, model: nn.Module, x_train: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor,
              bias_val: torch.Tensor, seed: int) -> Optional[dict]:
        """Called once after training (when ``refits``) on the chosen checkpoint's model with the training images
        (no labels) and the validation split with its bias values (its group labels: only a strategy that knows group labels on a held-out set reads
        them); changes the model in place and returns what it chose. No-op by default."""
        return None

    def pseudo_groups(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> Optional[torch.Tensor]:
        """(N,) pseudo-group ids in 0..num_classes^2 - 1 of images ``x`` with labels ``y`` from the strategy's bias
        proxy (class x the proxy's prediction), for the ``val-pseudo-group`` rule; None without a proxy."""
        return None

    def after_step(self, model: nn.Module) -> None:
        """Called after every optimiser step (e.g. to keep suppressed units at zero); no-op by default."""
