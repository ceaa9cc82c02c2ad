"""The Strategy base class and its config base."""

from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn as nn
from pydantic import BaseModel, ConfigDict


class StrategyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Strategy(nn.Module):
    name: str = ""
    Config: type[StrategyConfig] = StrategyConfig

    def __init__(self, cfg: StrategyConfig, model_builder: Optional[Callable[[], nn.Module]] = None, n_train: int = 0):
        super().__init__()
        self.cfg = cfg

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError
