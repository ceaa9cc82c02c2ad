"""``mlp``: the multi-layer perceptron of Learning from Failure's Colored-MNIST experiments
(Nam et al., NeurIPS 2020): the image flattened (3 x 28 x 28 = 2352 inputs), three hidden
layers of ``hidden`` units (100 in the paper) with ReLU, a linear head. Used for the
reproduction check on the ``lff`` protocol; it has no convolution, so the analyses built
on a conv layer (Grad-CAM) do not apply to it. Input (B, 3, 28, 28) -> logits (B, 10).
"""

import torch.nn as nn
from pydantic import BaseModel, ConfigDict, Field

from . import register


class MLPOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(100, ge=1, le=8192, description="units of each of the three hidden layers")


class MLP(nn.Module):
    def __init__(self, num_classes: int = 10, hidden: int = 100, inputs: int = 3 * 28 * 28):
        super().__init__()
        self.flat = nn.Flatten()
        self.fc1, self.act1 = nn.Linear(inputs, hidden), nn.ReLU()
        self.fc2, self.act2 = nn.Linear(hidden, hidden), nn.ReLU()
        self.fc3, self.act3 = nn.Linear(hidden, hidden), nn.ReLU()
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x):
        h = self.act1(self.fc1(self.flat(x)))
        return self.head(self.act3(self.fc3(self.act2(self.fc2(h)))))


@register("mlp", options=MLPOptions, defaults={"width": 100})
def build(num_classes: int = 10, width: int = 100) -> nn.Module:
    return MLP(num_classes, width)
