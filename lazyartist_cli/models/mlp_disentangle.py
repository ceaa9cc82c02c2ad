"""``mlp-disentangle``: the two-encoder MLP of Disentangled Feature Augmentation (DFA: Lee et al., NeurIPS 2021;
its released ``MLP_DISENTANGLE``) for the ``dfa`` strategy.

Two encoders of the same shape, an intrinsic one and a bias one, each the image flattened (3 x 28 x 28 = 2352
inputs) through ``width`` -> ``width`` -> ``features`` units with a ReLU after every layer (DFA: 100, 100, 16),
and two linear heads on the concatenated features [z_i, z_b] (2 * ``features`` -> classes). The model's
prediction is the intrinsic head on both encoders' features, as DFA's evaluation computes it; the bias head is
read by the ``dfa`` loss only. ``input_divisor`` as in ``mlp`` (DFA's MLP also divides an image already in [0, 1]
by 255). Input (B, 3, 28, 28) -> logits (B, 10).
"""

import torch
import torch.nn as nn
from pydantic import BaseModel, ConfigDict, Field

from . import register


class DisentangleOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(100, ge=1, le=8192, description="units of the first two layers of each encoder")
    features: int = Field(16, ge=1, le=8192, description="units of each encoder's last layer (its features)")
    input_divisor: float = Field(1.0, gt=0, le=1e6, description="the flattened image is divided by this first "
                                 "(DFA's released code: 255, on an image already in [0, 1])")


def _encoder(inputs: int, width: int, features: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, features), nn.ReLU())


class DisentangledMLP(nn.Module):
    def __init__(self, num_classes: int = 10, width: int = 100, features: int = 16, input_divisor: float = 1.0,
                 inputs: int = 3 * 28 * 28):
        super().__init__()
        self.input_divisor = float(input_divisor)
        self.encoder_i = _encoder(inputs, width, features)
        self.encoder_b = _encoder(inputs, width, features)
        # in this order: the analyses read the input of the last Linear (head_i, the prediction's), ``joint``
        self.head_b = nn.Linear(2 * features, num_classes)
        self.joint = nn.Identity()  # [z_i, z_b], the features the prediction reads (the analyses' penultimate layer)
        self.head_i = nn.Linear(2 * features, num_classes)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_i, z_b): the intrinsic and the bias encoder's features, each (B, features)."""
        x = x.flatten(1)
        if self.input_divisor != 1.0:
            x = x / self.input_divisor
        return self.encoder_i(x), self.encoder_b(x)

    def forward(self, x):
        z_i, z_b = self.features(x)
        return self.head_i(self.joint(torch.cat([z_i, z_b], 1)))


@register("mlp-disentangle", options=DisentangleOptions, defaults={"width": 100, "features": 16, "input_divisor": 1.0})
def build(num_classes: int = 10, width: int = 100, features: int = 16, input_divisor: float = 1.0) -> nn.Module:
    return DisentangledMLP(num_classes, width, features, input_divisor)
