"""The skeleton of a strategy that trains a bias proxy first (JTT's identification model, uLA's proxy).

Stage 1 (epochs 1..T, T the option named by ``stage_option``): a helper of the kept model's architecture trains
with plain cross-entropy; the kept model is not trained and no checkpoint of it may be chosen. Before epoch
T + 1 the helper is frozen and reads the whole training split once (``freeze``, the subclass's step). Stage 2:
the kept model, freshly initialised, trains with the subclass's ``stage_two_loss``.

The frozen helper is a bias proxy: (label, its prediction) are the pseudo-groups of the ``val-pseudo-group``
checkpoint rule (uLA's bias-unsupervised validation score), which reads no bias labels.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .base import Strategy, StrategyConfig


class TwoStageStrategy(Strategy):
    bias_proxy = True
    # every subclass names these (checked when it is defined); the names are kept per strategy, so that the state
    # dicts of runs trained before this class existed still load
    helper_name: str = ""     # the stage-1 model, a submodule (not "helper": that is the property below)
    helper_role: str = ""     # what the docs call it, for messages
    frozen_name: str = ""     # a bool buffer: True once the helper has been frozen and read
    stage_option: str = ""    # the config field holding T

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        problems = [f"{a} is not set" for a in ("helper_name", "helper_role", "frozen_name", "stage_option") if not getattr(cls, a)]
        if cls.helper_name == "helper":
            problems.append("helper_name 'helper' is the property's name")
        if cls.stage_option and cls.stage_option not in cls.Config.model_fields:
            problems.append(f"stage_option {cls.stage_option!r} is not a field of its Config")
        if problems:
            raise TypeError(f"{cls.__name__}: " + "; ".join(problems))

    @classmethod
    def default_selection(cls, cfg=None):
        return "val-pseudo-group"  # its frozen helper is the bias proxy: the strongest rule knowing nothing allows

    def __init__(self, cfg: StrategyConfig, ctx=None):
        super().__init__(cfg, ctx)
        self.add_module(self.helper_name, self.own_model(self.helper_role))
        self.register_buffer(self.frozen_name, torch.zeros((), dtype=torch.bool))
        self._val_groups = None  # (images, labels, their pseudo-groups) once the helper is frozen; not checkpointed

    @property
    def helper(self) -> nn.Module:
        return getattr(self, self.helper_name)

    @property
    def is_frozen(self) -> bool:
        return bool(getattr(self, self.frozen_name))

    @classmethod
    def stage_epochs(cls, cfg: StrategyConfig) -> int:
        return int(getattr(cfg, cls.stage_option))

    @classmethod
    def check_epochs(cls, cfg, epochs):
        if epochs <= cls.stage_epochs(cfg):
            return (f"train.epochs = {epochs} leaves {cls.name} no second stage: strategy.{cls.name}.{cls.stage_option} = "
                    f"{cls.stage_epochs(cfg)}; train more epochs")
        return None

    def _stage(self, epoch: int) -> int:
        return 1 if epoch <= self.stage_epochs(self.cfg) else 2

    @classmethod
    def selectable_epoch(cls, cfg, epoch):
        return epoch > cls.stage_epochs(cfg)  # stage 2: the kept model is training

    @torch.no_grad()
    def helper_probs(self, x: torch.Tensor, batch_size: int, temperature: float = 1.0) -> torch.Tensor:
        """The helper's softmax in eval mode and fp32 (autocast off: what stage 2 reads and the validation
        pseudo-groups agree with each other and with `lazy eval`'s fp32 re-score)."""
        was = self.helper.training
        self.helper.eval()
        with torch.autocast(x.device.type, enabled=False):
            p = torch.cat([F.softmax(self.helper(x[i : i + batch_size].float()).float() / temperature, dim=1)
                           for i in range(0, x.shape[0], batch_size)])
        self.helper.train(was)
        return p

    def freeze(self, x_train: torch.Tensor, y_train: torch.Tensor) -> None:
        """What the subclass reads from the frozen helper before stage 2 (JTT: its error set; uLA: its prior)."""
        raise NotImplementedError

    @torch.no_grad()
    def before_epoch(self, epoch, model, x_train, y_train):
        if self._stage(epoch) == 1 or self.is_frozen:
            return
        self.freeze(x_train, y_train)
        getattr(self, self.frozen_name).fill_(True)

    def pseudo_groups(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> Optional[torch.Tensor]:
        """label * num_classes + the helper's prediction, one id per image. Once the helper is frozen they cannot
        change, so the split scored after every epoch is run through it once."""
        if self._val_groups is not None and self._val_groups[0] is x and self._val_groups[1] is y:
            return self._val_groups[2]  # the same tensors, held here: not a new split at a reused address
        groups = y * self.ctx.num_classes + self.helper_probs(x, batch_size).argmax(1)
        if self.is_frozen:
            self._val_groups = (x, y, groups)
        return groups

    def stage_two_loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def loss(self, model, batch):
        if not self.is_frozen:  # stage 1: only the helper learns
            self.helper.train(model.training)
            ce = F.cross_entropy(self.helper(batch["x"]), batch["y"])
            return ce, {f"ce_{self.helper_name}": ce.item()}
        return self.stage_two_loss(model, batch)
