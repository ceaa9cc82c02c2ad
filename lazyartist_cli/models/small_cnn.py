"""``small-cnn``: the PRD's standard CNN, 3 conv blocks (Conv-BN-ReLU, max-pool),
global average pooling and a linear head. Input (B, 3, 28, 28) -> logits (B, 10).

Not lazy on this data: with BatchNorm and three blocks it learns digit shape
from the 5% counter-examples even under plain cross-entropy.
"""

import torch.nn as nn

from . import register


def block(cin: int, cout: int, pool: bool) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    def __init__(self, num_classes: int = 10, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            block(3, width, True),  # (B, 32, 14, 14)
            block(width, 2 * width, True),  # (B, 64, 7, 7)
            block(2 * width, 4 * width, False),  # (B, 128, 7, 7)
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(4 * width, num_classes)

    def forward(self, x):
        return self.head(self.pool(self.features(x)).flatten(1))


@register("small-cnn")
def build(num_classes: int = 10) -> nn.Module:
    return SmallCNN(num_classes)
