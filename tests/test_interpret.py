"""Grad-CAM by hand, batched equals per-image, hooks released, IG completeness,
activation maximisation, selectivity on synthetic units, attention scores."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lazyartist_cli.errors import LazyError, UsageError
from lazyartist_cli.interpret import ATTRIBUTIONS
from lazyartist_cli.interpret.actmax import ActMaxConfig, activation_maximization
from lazyartist_cli.interpret.attention import attention_scores
from lazyartist_cli.interpret.gradcam import grad_cam
from lazyartist_cli.interpret.hooks import LayerCapture, find_layer
from lazyartist_cli.interpret.integrated_gradients import integrated_gradients
from lazyartist_cli.interpret.selectivity import LABELS, selectivity_scores
from lazyartist_cli.models import build_model


class TwoChannel(nn.Module):
    """conv: 1x1, channel 0 = R, channel 1 = G (optionally rectified); then global average pooling and a
    linear head with the given biases."""

    def __init__(self, relu: bool = False, bias: tuple[float, float, float] = (0.0, 0.0, 0.0)):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0] = 1.0
            self.conv.weight[1, 1] = 1.0
        self.act = nn.ReLU() if relu else nn.Identity()
        self.head = nn.Linear(2, 3)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([[2.0, -1.0], [0.5, 3.0], [-1.0, -1.0]]))
            self.head.bias.copy_(torch.tensor(bias))

    def forward(self, x):
        return self.head(F.adaptive_avg_pool2d(self.act(self.conv(x)), 1).flatten(1))


def test_gradcam_equals_the_hand_computed_map():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 4, 4, generator=g)
    model = TwoChannel()
    maps = grad_cam(model, x, "conv", target=torch.tensor([0, 1]))
    # alpha_k = W[c, k] / (h * w); cam = relu(sum_k alpha_k A_k); min-max normalised
    for i, c in enumerate([0, 1]):
        w = model.head.weight[c].detach()
        cam = F.relu((w[0] * x[i, 0] + w[1] * x[i, 1]) / 16)
        expected = (cam - cam.min()) / (cam.max() - cam.min())
        assert torch.allclose(maps[i], expected, atol=1e-6)


class InPlace(TwoChannel):
    """TwoChannel with an in-place op right after the captured conv."""

    def forward(self, x):
        a = self.conv(x)
        a.mul_(2.0).relu_()
        return self.head(F.adaptive_avg_pool2d(a, 1).flatten(1))


def test_gradcam_sees_the_layer_output_before_a_later_in_place_op():
    x = torch.rand(3, 3, 4, 4, generator=torch.Generator().manual_seed(1)) - 0.5
    target = torch.tensor([0, 1, 0])
    maps = grad_cam(InPlace(), x, "conv", target=target, batch_size=2)
    # d score / d A = 2 * relu'(2A) * W[c] / 16; the map uses A before the in-place op
    model = InPlace()
    for i, c in enumerate(target.tolist()):
        a = x[i, :2]
        alpha = (2.0 * (a > 0).float() * model.head.weight[c].detach()[:, None, None] / 16).mean((1, 2))
        cam = F.relu(alpha[0] * a[0] + alpha[1] * a[1])
        expected = (cam - cam.min()) / (cam.max() - cam.min()).clamp_min(1e-12)
        assert torch.allclose(maps[i], expected, atol=1e-6)


@pytest.mark.parametrize("method", sorted(ATTRIBUTIONS))
def test_batched_equals_per_image(method):
    torch.manual_seed(0)
    model = build_model("lazy-cnn")
    x = torch.rand(5, 3, 28, 28)
    attr = ATTRIBUTIONS[method]()
    batched = attr(model, x).maps
    assert batched.shape == (5, 28, 28)
    if method == "smoothgrad":
        # the noise is drawn for the whole batch: give each image its own slice of that same noise
        from lazyartist_cli.interpret.base import normalize_maps
        from lazyartist_cli.interpret.saliency import input_gradient

        gen = torch.Generator().manual_seed(attr.seed)
        noise = torch.randn((attr.samples,) + tuple(x.shape), generator=gen) * attr.sigma  # (S, B, 3, H, W)
        target = model(x).argmax(1)
        single = []
        for i in range(5):
            noisy = x[i][None] + noise[:, i]  # (S, 3, H, W)
            grad, _ = input_gradient(model, noisy, target[i].repeat(attr.samples))
            single.append(normalize_maps(grad.mean(0, keepdim=True).abs().amax(1)))
        single = torch.cat(single)
    else:
        single = torch.cat([attr(model, x[i : i + 1]).maps for i in range(5)])
    assert torch.allclose(batched, single, atol=1e-5)


def test_smoothgrad_is_deterministic_for_a_seed():
    torch.manual_seed(0)
    model = build_model("lazy-cnn")
    x = torch.rand(3, 3, 28, 28)
    a = ATTRIBUTIONS["smoothgrad"](samples=4, seed=1)(model, x).maps
    b = ATTRIBUTIONS["smoothgrad"](samples=4, seed=1)(model, x).maps
    assert torch.equal(a, b)


def test_hooks_are_removed_even_after_an_exception():
    model = build_model("lazy-cnn")
    layer = find_layer(model, "conv")
    with pytest.raises(RuntimeError):
        with LayerCapture(model, "conv"):
            assert len(layer._forward_hooks) == 1
            model(torch.rand(2, 3, 28, 28))
            raise RuntimeError("a failure while the hooks are registered")
    assert len(layer._forward_hooks) == 0


def test_unknown_layer_lists_valid_ones_and_no_gradient_is_reported():
    model = build_model("lazy-cnn")
    with pytest.raises(UsageError, match="valid: conv"):
        grad_cam(model, torch.rand(1, 3, 28, 28), "nope")

    class Detached(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 4, 3)
            self.b = nn.Linear(4, 10)

        def forward(self, x):
            return self.b(self.a(x).detach().mean((2, 3)))

    with pytest.raises(LazyError, match="no gradient reaches layer 'a'"):
        grad_cam(Detached(), torch.rand(2, 3, 8, 8), "a")


def test_integrated_gradients_completeness():
    torch.manual_seed(0)
    model = build_model("lazy-cnn").eval()
    x = torch.rand(3, 3, 28, 28)
    target = torch.tensor([1, 4, 7])
    attr = integrated_gradients(model, x, target, steps=256)
    with torch.no_grad():
        diff = model(x).gather(1, target[:, None])[:, 0] - model(torch.zeros_like(x)).gather(1, target[:, None])[:, 0]
    assert torch.allclose(attr.sum((1, 2, 3)), diff, rtol=0.02, atol=2e-3)


@pytest.mark.parametrize("param", ["pixel", "fft"])
def test_activation_maximisation_increases_and_stays_in_range(param):
    torch.manual_seed(0)
    model = build_model("lazy-cnn")
    cfg = ActMaxConfig(steps=40, lr=0.05, param=param, jitter=1, blur_every=10 if param == "pixel" else 0)
    images, reached, trace = activation_maximization(model, "fc1", torch.tensor([0, 3, 5]), cfg, seed=0)
    assert images.shape == (3, 3, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert trace[-1] > trace[0]
    assert model.training  # mode restored
    assert all(p.requires_grad for p in model.parameters())


def test_selectivity_labels_synthetic_units():
    d, k = 40, 10
    labels = torch.arange(d) % 10
    colour = torch.arange(k, dtype=torch.float)[None, :].expand(d, k)  # depends on colour only
    shape = labels[:, None].float().expand(d, k)  # depends on the digit class only
    both = colour + shape
    dead = torch.zeros(d, k)
    r = torch.stack([colour, shape, both, dead], dim=2)
    out = selectivity_scores(r, labels)
    assert [LABELS[i] for i in out["label"]] == ["colour", "shape", "polysemantic", "weak/dead"]
    assert abs(out["colour"][0] - 1.0) < 1e-6 and abs(out["shape"][1] - 1.0) < 1e-6


def test_attention_scores():
    digits = torch.zeros(2, 10, 10, dtype=torch.uint8)
    digits[:, 2:8, 4:6] = 255  # 12 stroke pixels
    on_stroke = (digits[0].float() / 255)[None]
    uniform = torch.ones(1, 10, 10)
    s = attention_scores(torch.cat([on_stroke, uniform]), digits)
    assert torch.allclose(s["stroke_share"], torch.tensor([1.0, 0.12]))
    assert torch.allclose(s["concentration"], torch.tensor([10 / 100, 80 / 100]))
    assert s["label"].tolist() == [0, 1]


def test_colourness_separates_flat_colour_from_gray_edges():
    from lazyartist_cli.interpret.actmax import colourness

    flat = torch.zeros(1, 3, 8, 8)
    flat[:, 0] = 1.0  # pure red, no edges
    edges = torch.zeros(1, 3, 8, 8)
    edges[..., ::2] = 1.0  # gray stripes, no colour
    both = (flat + edges).clamp(0, 1)
    c = colourness(torch.cat([flat, edges, both]))
    assert c[0] == pytest.approx(1.0) and c[1] == pytest.approx(0.0) and 0 < c[2] < 1


def test_random_affine_is_the_identity_at_zero_and_restarts_keep_one_image_per_unit():
    from lazyartist_cli.interpret.actmax import random_affine

    x = torch.rand(3, 3, 10, 10)
    assert torch.allclose(random_affine(x, 0.0, 0.0, torch.Generator().manual_seed(0)), x, atol=1e-5)
    model = build_model("lazy-cnn")
    cfg = ActMaxConfig(steps=3, restarts=3, scale=0.1, rotate=5.0, objective="neuron")
    imgs, reached, _ = activation_maximization(model, "act", torch.tensor([0, 1]), cfg)
    assert imgs.shape == (2, 3, 28, 28) and reached.shape == (2,)
    again, reached2, _ = activation_maximization(model, "act", torch.tensor([0, 1]), cfg)
    assert torch.equal(imgs, again) and torch.equal(reached, reached2)


def test_per_neuron_objective_needs_spatial_maps():
    from lazyartist_cli.pipeline.probe import filter_patches, layer_objective

    assert layer_objective("auto", "conv", spatial=True, named=False) == "neuron"
    assert layer_objective("auto", "fc1", spatial=False, named=False) == "channel"
    assert layer_objective("neuron", "fc1", spatial=False, named=False) == "channel"  # a default layer falls back
    with pytest.raises(UsageError, match="no spatial maps"):
        layer_objective("neuron", "fc1", spatial=False, named=True)
    model = build_model("lazy-cnn")
    p = filter_patches(model, "conv", [0, 2])
    assert p.shape == (2, 3, 3, 3) and p.min() >= 0 and p.max() <= 1
    assert filter_patches(model, "conv2", [0]) is None  # not an RGB filter


@pytest.mark.parametrize("name", sorted(ATTRIBUTIONS))
def test_every_attribution_is_built_from_config_and_has_a_title(name):
    from lazyartist_cli.config import GradcamConfig
    from lazyartist_cli.interpret import ATTRIBUTIONS

    g = GradcamConfig(method=name, smoothgrad_samples=3, ig_steps=5)
    attr = ATTRIBUTIONS[name].from_config(g, seed=4)
    assert type(attr) is ATTRIBUTIONS[name] and attr.title
    for key, value in {"samples": 3, "steps": 5, "seed": 4}.items():
        if hasattr(attr, key):
            assert getattr(attr, key) == value, key
