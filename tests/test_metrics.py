"""Metrics against hand-computed values, colour reliance and counterfactuals on a colour-reading toy model."""

import math

import torch
import torch.nn as nn

from lazyartist_cli.data.colorize import compose, make_textures
from lazyartist_cli.data.palette import DEFAULT_PALETTE, NAMED_COLORS
from lazyartist_cli.interpret.counterfactual import counterfactual_predictions, recolor_all
from lazyartist_cli.interpret.reliance import color_reliance
from lazyartist_cli.metrics import confusion_matrix, entropy, per_class_accuracy

PALETTE = torch.tensor([NAMED_COLORS[c] for c in DEFAULT_PALETTE], dtype=torch.float32) / 255


class ColorReader(nn.Module):
    """Predicts the class whose palette colour is closest to the brightest pixels' mean colour."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        lum = x.mean(1, keepdim=True)  # (B, 1, H, W)
        mask = (lum >= lum.amax((2, 3), keepdim=True) * 0.8).float()
        mean = (x * mask).sum((2, 3)) / mask.sum((2, 3))  # (B, 3)
        return -torch.cdist(mean, PALETTE) * 50 + self.w


class Uniform(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return torch.zeros(x.shape[0], 10) + self.w


def test_confusion_and_per_class_by_hand():
    y = torch.tensor([0, 0, 1, 1, 1, 2])
    p = torch.tensor([0, 1, 1, 1, 0, 2])
    cm = confusion_matrix(y, p, 3)
    assert cm.tolist() == [[1, 1, 0], [1, 2, 0], [0, 0, 1]]
    assert per_class_accuracy(cm) == [0.5, 2 / 3, 1.0]


def test_entropy_of_uniform_is_log_k():
    assert math.isclose(entropy(torch.full((1, 10), 0.1)).item(), math.log(10), rel_tol=1e-6)


def test_color_reliance_separates_colour_reader_from_uniform():
    r = color_reliance(ColorReader(), PALETTE)
    assert r["solid_follows_palette"] == 1.0 and r["solid_confidence"] > 0.99
    u = color_reliance(Uniform(), PALETTE)
    assert math.isclose(u["solid_confidence"], 0.1, rel_tol=1e-6) and math.isclose(u["solid_entropy_normalized"], 1.0, rel_tol=1e-6)


def test_counterfactual_colour_reader_always_follows_the_new_colour():
    g = torch.Generator().manual_seed(0)
    digits = torch.zeros(3, 28, 28, dtype=torch.uint8)
    digits[:, 8:20, 12:16] = 255
    colors = torch.tensor([0, 4, 7])
    noise, stripes = make_textures(3, g, stripe_prob=0.0)
    x = compose(digits, PALETTE[colors], noise, stripes).float() / 255
    xr, src, new_c = recolor_all(x, digits, colors, PALETTE, "foreground")
    assert xr.shape[0] == 27 and not (new_c == colors[src]).any()
    pred, _ = counterfactual_predictions(ColorReader(), xr)
    assert torch.equal(pred, new_c)
