"""Colour vs luminance attribution: constructed models with known answers, the isotropic
baseline, the rectified Grad-CAM layer, bootstrap CIs."""

import math

import pytest
import torch
import torch.nn as nn

from lazyartist_cli.config import load_config
from lazyartist_cli.errors import ConfigError, UsageError
from lazyartist_cli.interpret.chromatic import (COLOR_METHODS, ISOTROPIC_SHARE, chromatic_share, color_components,
                                                gradient_masses, split_gray)
from lazyartist_cli.interpret.hooks import rectified_conv_name
from lazyartist_cli.metrics import bootstrap_ci, intervals_overlap
from lazyartist_cli.models import build_model


class ReadsOnly(nn.Module):
    """A 3x3 conv whose every filter has one fixed RGB direction (``color``) times a random spatial
    pattern, then ReLU, global average pooling and a linear head: the input enters only through its
    projection on ``color``."""

    def __init__(self, color: tuple[float, float, float]):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.act = nn.ReLU()
        with torch.no_grad():
            spatial = torch.randn(6, 1, 3, 3, generator=gen)
            self.conv.weight.copy_(spatial * torch.tensor(color).view(1, 3, 1, 1))
            self.conv.bias.copy_(torch.randn(6, generator=gen) * 0.1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(6, 10)

    def forward(self, x):
        return self.head(self.pool(self.act(self.conv(x))).flatten(1))


X = torch.rand(8, 3, 12, 12, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("method", list(COLOR_METHODS))
def test_channel_difference_reader_has_chromatic_share_one_and_brightness_reader_zero(method):
    chroma_model = ReadsOnly((1.0, -1.0, 0.0))  # R - G: orthogonal to the gray axis
    bright_model = ReadsOnly((1.0, 1.0, 1.0))  # R + G + B: the gray axis
    g, c, _ = color_components(method, chroma_model, X, steps=8, samples=4)
    assert torch.allclose(chromatic_share(g, c), torch.ones(8), atol=1e-5)
    assert c.sum() > 0
    g, c, _ = color_components(method, bright_model, X, steps=8, samples=4)
    assert torch.allclose(chromatic_share(g, c), torch.zeros(8), atol=1e-5)
    assert g.sum() > 0


def test_a_mixed_reader_lies_between_and_the_split_is_orthogonal():
    g, c, _ = color_components("saliency", ReadsOnly((1.0, 0.0, 0.0)), X)  # R alone: 1/3 gray, 2/3 chromatic energy
    share = chromatic_share(g, c)
    expected = math.sqrt(2 / 3) / (math.sqrt(1 / 3) + math.sqrt(2 / 3))
    assert torch.allclose(share, torch.full((8,), expected), atol=1e-5)
    v = torch.randn(4, 3, 5, 5)
    gray, chroma = split_gray(v)
    assert torch.allclose(gray + chroma, v)
    assert torch.allclose((gray * chroma).sum(1), torch.zeros(4, 5, 5), atol=1e-6)


def test_isotropic_gradients_give_the_isotropic_share():
    g, c = gradient_masses(torch.randn(64, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    assert abs(chromatic_share(g, c).mean().item() - ISOTROPIC_SHARE) < 0.005
    assert 0.6 < ISOTROPIC_SHARE < 0.62


def test_unknown_component_method_is_a_usage_error_and_a_config_error():
    with pytest.raises(UsageError, match="valid: saliency"):
        color_components("hue", ReadsOnly((1.0, 1.0, 1.0)), X)
    with pytest.raises(ConfigError, match="color_methods"):
        load_config(None, {"gradcam.color_methods": ["hue"]})


def test_model_mode_is_restored():
    m = ReadsOnly((1.0, 0.0, 0.0)).train()
    color_components("ig", m, X, steps=4)
    assert m.training


def test_gradcam_default_layer_is_the_rectified_map():
    assert rectified_conv_name(build_model("lazy-cnn")) == "act_c2"
    assert rectified_conv_name(build_model("lazy-cnn-v1")) == "act"
    assert rectified_conv_name(build_model("small-cnn")) == "features.2.2"  # conv, batch norm, then ReLU
    assert rectified_conv_name(build_model("resnet18")) == "layer4"  # the block's ReLU follows the residual sum
    assert rectified_conv_name(ReadsOnly((1.0, 0.0, 0.0))) == "act"


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    v = torch.tensor([0.0, 1.0] * 200)
    a = bootstrap_ci(v, seed=3)
    assert a == bootstrap_ci(v, seed=3)
    assert a[0] == 0.5 and a[1] < 0.5 < a[2]
    # the standard error of a mean of 400 fair coin flips is 0.025: the 95% interval is about +-0.049
    assert 0.04 < (a[2] - a[1]) / 2 < 0.06
    assert bootstrap_ci(torch.full((10,), 0.3)) == pytest.approx((0.3, 0.3, 0.3))
    assert not intervals_overlap((0.1, 0.05, 0.15), (0.5, 0.4, 0.6))
    assert intervals_overlap((0.1, 0.05, 0.45), (0.5, 0.4, 0.6))


def test_ig_split_is_additive_and_differs_from_a_gradient_split_on_a_mixed_reader():
    """The signed gray and chromatic IG parts add up to IG summed over channels, per pixel; on a reader of R alone
    the IG split depends on the pixels' colours, unlike the gradient split."""
    from lazyartist_cli.interpret.chromatic import split_gray
    from lazyartist_cli.interpret.integrated_gradients import integrated_gradients, path_gradient

    model = ReadsOnly((1.0, 0.0, 0.0)).eval()
    target = torch.zeros(8, dtype=torch.long)
    mean_grad, delta = path_gradient(model, X, target, steps=8)
    d_gray, d_chroma = split_gray(delta)
    parts = (mean_grad * d_gray).sum(1) + (mean_grad * d_chroma).sum(1)
    assert torch.allclose(parts, integrated_gradients(model, X, target, steps=8).sum(1), atol=1e-6)
    g, c, _ = color_components("ig", model, X, target, steps=8)
    gs, cs, _ = color_components("saliency", model, X, target)
    assert not torch.allclose(chromatic_share(g, c), chromatic_share(gs, cs), atol=1e-3)
