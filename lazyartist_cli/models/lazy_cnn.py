"""``lazy-cnn``: a small CNN built so that the colour shortcut is the easy path.

Architecture: one convolution (3 -> 32 channels, 5x5), ReLU, average pooling
to a 2x2 grid, then an MLP (128 -> 64 -> 10). Input (B, 3, 28, 28).

Why it is lazy: colour is available at every stroke pixel and survives the
average pooling intact, so one layer of colour-tuned filters plus the MLP
separates the classes at the 95% the correlation allows within the first
epoch. Shape, in contrast, must be read from the coarse 2x2 layout of local
stroke features: possible (see the robust strategies) but slow to learn, and
once colour explains 95% of the labels the gradient left for shape comes from
the 5% counter-examples alone (gradient starvation). Deeper nets with
BatchNorm (``small-cnn``) learn shape from those counter-examples; this one
does not, under plain cross-entropy.
"""

import torch.nn as nn

from . import register


class LazyCNN(nn.Module):
    def __init__(self, num_classes: int = 10, channels: int = 32, kernel: int = 5, grid: int = 2, hidden: int = 64):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, kernel, padding=kernel // 2)
        self.act = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(grid)
        self.fc1 = nn.Linear(channels * grid * grid, hidden)
        self.act2 = nn.ReLU()
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x):
        h = self.pool(self.act(self.conv(x)))  # (B, C, grid, grid)
        return self.fc2(self.act2(self.fc1(h.flatten(1))))


@register("lazy-cnn")
def build(num_classes: int = 10) -> nn.Module:
    return LazyCNN(num_classes)
