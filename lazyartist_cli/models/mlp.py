"""``mlp``: the multi-layer perceptron of Learning from Failure's Colored-MNIST experiments
(Nam et al., NeurIPS 2020): the image flattened (3 x 28 x 28 = 2352 inputs), three hidden
layers of ``hidden`` units (100 in the paper) with ReLU, a linear head. Used for the
reproduction check on the ``lff`` protocol; it has no convolution, so the analyses built
on a conv layer (Grad-CAM) do not apply to it. Input (B, 3, 28, 28) -> logits (B, 10).

``input_divisor`` divides the flattened image before the first layer (default 1). LfF's released MLP divides
its input by 255 although its loader (``ToTensor``) has already scaled the image to [0, 1], so its network
sees [0, 1/255]: ``input_divisor = 255`` reproduces that, for the reproduction check only.
"""

import torch.nn as nn
from pydantic import BaseModel, ConfigDict, Field

from . import register


class MLPOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(100, ge=1, le=8192, description="units of each of the three hidden layers")
    input_divisor: float = Field(1.0, gt=0, le=1e6, description="the flattened image is divided by this before the "
                                 "first layer (LfF's released code: 255, on an image already in [0, 1])")


class MLP(nn.Module):
    def __init__(self, num_classes: int = 10, hidden: int = 100, inputs: int = 3 * 28 * 28, input_divisor: float = 1.0,
                 last: int = 0):
        super().__init__()
        self.flat = nn.Flatten()
        self.input_divisor = float(input_divisor)
        last = last or hidden  # the third layer's width (mlp: hidden; mlp-narrow: its features)
        self.fc1, self.act1 = nn.Linear(inputs, hidden), nn.ReLU()
        self.fc2, self.act2 = nn.Linear(hidden, hidden), nn.ReLU()
        self.fc3, self.act3 = nn.Linear(hidden, last), nn.ReLU()
        self.head = nn.Linear(last, num_classes)

    def forward(self, x):
        x = self.flat(x)  # (B, 2352)
        if self.input_divisor != 1.0:
            x = x / self.input_divisor
        h = self.act1(self.fc1(x))
        return self.head(self.act3(self.fc3(self.act2(self.fc2(h)))))


@register("mlp", options=MLPOptions, defaults={"width": 100, "input_divisor": 1.0})
def build(num_classes: int = 10, width: int = 100, input_divisor: float = 1.0) -> nn.Module:
    return MLP(num_classes, width, input_divisor=input_divisor)


class NarrowMLPOptions(MLPOptions):
    features: int = Field(16, ge=1, le=8192, description="units of the third hidden layer (the head's input)")


@register("mlp-narrow", options=NarrowMLPOptions, defaults={"width": 100, "input_divisor": 1.0, "features": 16})
def build_narrow(num_classes: int = 10, width: int = 100, input_divisor: float = 1.0, features: int = 16) -> nn.Module:
    """LC's Colored-MNIST network (its released ``MLP_DISENTANGLE(bias=True)``): LfF's MLP with a third hidden layer of
    ``features`` units (16) before the linear head."""
    return MLP(num_classes, width, input_divisor=input_divisor, last=features)


class DeepMLPOptions(MLPOptions):
    width: int = Field(100, ge=1, le=8192, description="units of each hidden layer")
    hidden_layers: int = Field(4, ge=1, le=16, description="hidden layers before the linear head")


class DeepMLP(nn.Module):
    """``hidden_layers`` hidden layers of ``width`` units (ReLU after each) and a linear ``head``."""

    def __init__(self, num_classes: int = 10, width: int = 100, hidden_layers: int = 4, input_divisor: float = 1.0,
                 inputs: int = 3 * 28 * 28):
        super().__init__()
        self.flat = nn.Flatten()
        self.input_divisor = float(input_divisor)
        sizes = [inputs] + [width] * hidden_layers
        self.body = nn.Sequential(*[m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())])
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        x = self.flat(x)
        if self.input_divisor != 1.0:
            x = x / self.input_divisor
        return self.head(self.body(x))


@register("mlp-deep", options=DeepMLPOptions, defaults={"width": 100, "input_divisor": 1.0, "hidden_layers": 4})
def build_deep(num_classes: int = 10, width: int = 100, input_divisor: float = 1.0, hidden_layers: int = 4) -> nn.Module:
    """DeNetDM's Colored-MNIST target network (its released ``CMNISTDeNetDMModel``'s stage-2 branch and head): four
    hidden layers of 100 units and a linear head, one more hidden layer than LfF's ``mlp``."""
    return DeepMLP(num_classes, width, hidden_layers, input_divisor)
