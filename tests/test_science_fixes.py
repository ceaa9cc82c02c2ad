"""Tests for the science defects of issue 10; each fails on the code before the fix.

1. the oracle's view is colour-blind (the legacy luminance/max oracle is not);
2. the jitter ops change brightness (permute and hue keep it: a brightness shortcut);
3. input-gradient penalises d/dx sum_k log p_k (Ross et al.), not d/dx log p_y;
4. LfF normalises by the class maximum over the whole training set, not the batch;
plus exact checks of the two new strategies and of model options.
"""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lazyartist_cli.data.colorize import compose, make_textures
from lazyartist_cli.data.palette import DEFAULT_PALETTE, NAMED_COLORS
from lazyartist_cli.data.views import colorblind_view, model_inputs
from lazyartist_cli.errors import UsageError
from lazyartist_cli.models import build_model, resolve_options, to_grayscale
from lazyartist_cli.strategies import StrategyContext, get_strategy
from lazyartist_cli.strategies.colorops import COLOR_OPS, recolor_views
from lazyartist_cli.strategies.group_dro import group_losses
from lazyartist_cli.strategies.input_gradient import chromatic_part, rrr_penalties

PALETTE = torch.tensor([NAMED_COLORS[c] for c in DEFAULT_PALETTE], dtype=torch.float32) / 255.0


def _same_digit_every_colour():
    """One digit and one background texture in each of the 10 palette colours."""
    g = torch.Generator().manual_seed(0)
    digit = torch.zeros(1, 28, 28, dtype=torch.uint8)
    digit[0, 6:22, 12:16] = 255
    digit[0, 6:8, 8:20] = 180
    noise, stripes = make_textures(1, g, stripe_prob=1.0)
    digits = digit.expand(10, -1, -1).contiguous()
    imgs = compose(digits, PALETTE, noise.expand(10, -1, -1, -1), stripes.expand(10, -1, -1), "foreground")
    return imgs.float() / 255, digits, torch.arange(10)


def test_oracle_view_maps_every_colour_to_the_same_image():
    x, digits, colors = _same_digit_every_colour()
    view = colorblind_view(x, digits, colors, PALETTE, "foreground")
    assert (view - view[:1]).abs().max() < 1.5 / 255  # uint8 rounding of the stored images only
    assert (x - x[:1]).abs().max() > 0.5  # the inputs did differ
    assert torch.equal(model_inputs(x, digits, colors, PALETTE, "foreground", "rgb"), x)


def test_legacy_grayscale_oracle_is_not_colour_blind():
    """The defect the colour-blind view fixes: luminance / image max keeps the stroke-to-background ratio."""
    x, _, _ = _same_digit_every_colour()
    gray = to_grayscale(x)
    assert (gray - gray[:1]).abs().max() > 0.1


def test_jitter_ops_change_brightness_where_permute_and_hue_cannot():
    torch.manual_seed(0)
    x = torch.rand(64, 3, 28, 28) * 0.5 + 0.25
    for op in ("permute", "hue"):
        assert torch.allclose(COLOR_OPS[op](x).mean(1), x.mean(1), atol=1e-5)
    for op in ("brightness", "gamma"):
        moved = (COLOR_OPS[op](x).mean((1, 2, 3)) - x.mean((1, 2, 3))).abs()
        assert moved.max() > 0.02, op
    # contrast keeps the mean but scales the stroke-to-background difference
    assert (COLOR_OPS["contrast"](x).std((1, 2, 3)) / x.std((1, 2, 3)) - 1).abs().max() > 0.2
    views = recolor_views(x, ["hue", "brightness", "contrast", "saturation"], compose=True)
    assert (views.mean((1, 2, 3)) - x.mean((1, 2, 3))).abs().max() > 0.02


def test_saturation_zero_is_gray_and_contrast_keeps_the_mean_luminance(monkeypatch):
    torch.manual_seed(1)
    x = torch.rand(8, 3, 28, 28) * 0.5 + 0.25
    from lazyartist_cli.strategies import colorops
    with monkeypatch.context() as m:  # a factor of 0: every pixel becomes its own luminance, in all three channels
        m.setattr(colorops, "_factor", lambda b, s, device: torch.zeros(b, 1, 1, 1))
        gray = colorops.saturation(x, 1.0)
    assert torch.allclose(gray, colorops._luminance(x).expand_as(x), atol=1e-6)
    lum = colorops._luminance(x)
    torch.manual_seed(2)
    f = colorops._factor(8, 1.0, None)
    torch.manual_seed(2)
    out = colorops.saturation(x, 1.0)
    assert torch.allclose(out, (lum + f * (x - lum)).clamp(0, 1), atol=1e-6)
    x2 = torch.full((4, 3, 28, 28), 0.5) + 0.05 * torch.randn(4, 3, 28, 28)
    out = colorops.contrast(x2.clamp(0, 1), 0.5)
    assert torch.allclose(colorops._luminance(out).mean((1, 2, 3)), colorops._luminance(x2.clamp(0, 1)).mean((1, 2, 3)), atol=1e-4)


class _Linear(nn.Module):
    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w)  # (K, 3*H*W)

    def forward(self, x):
        return x.flatten(1) @ self.w.T


def test_input_gradient_follows_ross_et_al_all_classes():
    torch.manual_seed(0)
    k, d = 10, 3 * 4 * 4
    w = torch.randn(k, d)
    w[3] *= 0.0
    x = torch.rand(2, 3, 4, 4)
    model = _Linear(w.clone())
    # make class 3 certain: its logit is huge, so d/dx log p_3 vanishes
    with torch.no_grad():
        model.w[3] = 50.0 * torch.sign(w[0])
    y = torch.tensor([3, 3])
    _, chroma, _ = rrr_penalties(model, x, y, create_graph=False)
    # expected (linear model): grad = sum_k w_k - K * sum_j p_j w_j, per image
    logits = model(x)
    p = F.softmax(logits, 1)
    wk = model.w.detach()
    grad = (wk.sum(0)[None] - k * p.detach() @ wk).view(2, 3, 4, 4)
    assert torch.allclose(chroma, chromatic_part(grad).pow(2).sum(), rtol=1e-4)
    # the old penalty (true class only) is ~0 here; the paper's is not
    xr = x.clone().requires_grad_(True)
    (g_y,) = torch.autograd.grad(F.log_softmax(model(xr), 1)[:, 3].sum(), xr)
    assert chromatic_part(g_y).pow(2).sum() < 1e-6 < chroma.item()


def test_input_gradient_brightness_term_is_the_derivative_along_the_image():
    torch.manual_seed(0)
    model = _Linear(torch.randn(10, 48))
    x = torch.rand(3, 3, 4, 4)
    _, _, bright = rrr_penalties(model, x, torch.tensor([0, 1, 2]), create_graph=False)
    a = torch.ones(3, requires_grad=True)
    total = F.log_softmax(model(x * a[:, None, None, None]), 1).sum()
    (da,) = torch.autograd.grad(total, a)
    assert torch.allclose(bright, da.pow(2).sum(), rtol=1e-4)


def test_lff_normalises_by_the_class_maximum_over_the_training_set():
    torch.manual_seed(0)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    ctx = StrategyContext(lambda: build_model("lazy-cnn"), n_train=6, labels=labels)
    lff = get_strategy("lff")(get_strategy("lff").Config(ema=0.0), ctx)
    # a class-0 counter-example seen earlier has a large biased loss, outside this batch
    lff.ema_b[2] = 100.0
    lff.ema_d[2] = 1.0
    lff.seen[2] = True
    batch = {"x": torch.rand(2, 3, 28, 28), "y": torch.tensor([0, 0]), "index": torch.tensor([0, 1])}
    model = build_model("lazy-cnn")
    _, logs = lff.loss(model, batch)
    # with the dataset maximum, the batch's aligned images get small weights: L_b / 100 vs L_d / max_d
    ce_b = F.cross_entropy(lff.biased(batch["x"]), batch["y"], reduction="none").detach()
    ce_d = F.cross_entropy(model(batch["x"]), batch["y"], reduction="none").detach()
    max_d = torch.maximum(ce_d.max(), torch.tensor(1.0))
    lb, ld = ce_b / 100.0, ce_d / max_d
    assert math.isclose(logs["weight"], (lb / (lb + ld + 1e-8)).mean().item(), rel_tol=1e-4)
    assert logs["weight"] < 0.2  # a per-batch maximum would give about 0.5


def test_group_dro_weights_follow_exponentiated_gradient():
    per = torch.tensor([1.0, 3.0, 2.0, 5.0])
    groups = torch.tensor([0, 0, 2, 3])
    gl = group_losses(per, groups, 4)
    assert torch.equal(gl, torch.tensor([2.0, 0.0, 2.0, 5.0]))
    labels, colors = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])
    ctx = StrategyContext(n_train=4, num_classes=2, labels=labels, colors=colors)
    dro = get_strategy("group-dro")(get_strategy("group-dro").Config(eta=0.5), ctx)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    batch = {"x": torch.randn(4, 1, 2, 2), "y": labels, "index": torch.arange(4)}
    loss, _ = dro.loss(model, batch)
    ce = F.cross_entropy(model(batch["x"]), labels, reduction="none").detach()
    q = torch.full((4,), 0.25) * torch.exp(0.5 * ce)  # groups = label * 2 + colour = 0, 1, 2, 3
    q = q / q.sum()
    assert torch.allclose(dro.q, q, atol=1e-6) and torch.allclose(loss, (q * ce).sum(), atol=1e-6)
    assert get_strategy("group-dro").knows == "group labels on all training data"


def test_spectral_decoupling_adds_half_the_squared_logit_norm():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 10))
    batch = {"x": torch.randn(5, 3, 2, 2), "y": torch.arange(5), "index": torch.arange(5)}
    sd = get_strategy("spectral-decoupling")(get_strategy("spectral-decoupling").Config(weight=0.3))
    loss, _ = sd.loss(model, batch)
    z = model(batch["x"])
    assert torch.allclose(loss, F.cross_entropy(z, batch["y"]) + 0.3 * 0.5 * z.pow(2).sum(1).mean())


def test_model_options_are_validated_and_change_the_network():
    assert resolve_options("lazy-cnn-v1") == {"channels": 32, "kernel": 5, "convs": 1, "grid": 2, "pool": "avg", "hidden": 64}
    m = build_model("lazy-cnn", options={"grid": 3, "convs": 2, "channels": 8, "hidden": 0})
    assert m.fc2.in_features == 8 * 9 and m.extra == ["2"] and m.conv2.in_channels == 8
    assert m(torch.rand(2, 3, 28, 28)).shape == (2, 10)
    with pytest.raises(UsageError, match="model_options.colour"):
        resolve_options("lazy-cnn", {"colour": 1})
    with pytest.raises(UsageError, match="takes no options"):
        resolve_options("small-cnn", {"grid": 2})


def test_strategies_say_what_they_know_and_pick_their_selection_rule():
    assert get_strategy("erm").default_selection() == "val"
    assert get_strategy("lff").default_selection() == "val"
    assert get_strategy("consistency").default_selection() == "val-recolored"
    assert get_strategy("input-gradient").knows == "the shortcut's type"


def test_neuron_suppression_switches_off_the_colour_selective_channel_for_good():
    from lazyartist_cli.strategies.neuron_suppression import color_selectivity

    conv = nn.Conv2d(3, 2, 1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[0, 0] = 1.0  # reads red only: colour-selective
        conv.weight[1] = 1.0 / 3  # reads the gray level
    torch.manual_seed(0)
    x = torch.zeros(16, 3, 8, 8)
    x[:, 0, 2:6, 3:5] = 1.0  # red strokes
    views = x[:, [1, 0, 2]]  # the same strokes in green
    sel = color_selectivity(conv, x, views)
    assert sel[0] > 1.5 and sel[1] < 1e-6
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
    cls = get_strategy("neuron-suppression")
    ns = cls(cls.Config(fraction=0.5, rounds=2, every=1, warmup=0), StrategyContext(model_builder=lambda: model))
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    batch = {"x": torch.rand(8, 3, 6, 6), "y": torch.arange(8), "index": torch.arange(8)}
    for _ in range(3):
        loss, logs = ns.loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ns.after_step(model)
    off = ns.suppressed
    assert int(off.sum()) == 3 and logs["suppressed"] == 3.0  # half of 4, then half of the 2 left; no third round
    assert model[0].weight[off].abs().max() == 0 and model[0].bias[off].abs().max() == 0


def test_stroke_recolor_gives_the_stroke_a_new_colour_and_keeps_the_background():
    """The targeted augmentation, read from the image alone, matches re-colouring the stored digit."""
    from lazyartist_cli.strategies.colorops import random_hsv, stroke_recolor
    x, digits, _ = _same_digit_every_colour()
    noise, stripes = make_textures(1, torch.Generator().manual_seed(0), stripe_prob=1.0)
    torch.manual_seed(3)
    new = random_hsv(10)
    torch.manual_seed(3)
    out = stroke_recolor(x)
    expected = compose(digits, new, noise.expand(10, -1, -1, -1), stripes.expand(10, -1, -1), "foreground").float() / 255
    assert (x - expected).abs().max() > 0.5  # the colours did change
    assert (out - expected).abs().mean() < 0.02  # estimated coverage: small errors on the striped background only
    assert (out - expected).abs().max() < 0.2
    # hue, saturation and value span the palette, brown and pink included
    many = random_hsv(20_000)
    hsv_v = many.max(1).values
    assert hsv_v.min() >= 0.45 - 1e-6 and hsv_v.max() <= 1.0 + 1e-6
    for name in ("brown", "pink", "purple", "yellow"):
        col = torch.tensor(NAMED_COLORS[name], dtype=torch.float32) / 255
        assert (many - col).norm(dim=1).min() < 0.06, name


def test_consistency_needs_some_cross_entropy():
    from lazyartist_cli.strategies.consistency import ConsistencyConfig
    with pytest.raises(ValueError, match="cross-entropy"):
        ConsistencyConfig(ce_on_clean=False, ce_on_views=False)
    assert ConsistencyConfig(ce_on_clean=False).ce_on_views


def test_consistency_input_gradient_is_the_sum_of_its_two_parts():
    from lazyartist_cli.strategies.consistency import consistency_loss
    from lazyartist_cli.strategies.input_gradient import batch_penalties

    torch.manual_seed(0)
    model = build_model("lazy-cnn")
    x, y = torch.rand(6, 3, 28, 28), torch.randint(0, 10, (6,))
    cls = get_strategy("consistency-input-gradient")
    cfg = cls.Config(weight=3.0, brightness_weight=0.5)
    torch.manual_seed(1)
    loss, logs = cls(cfg).loss(model, {"x": x, "y": y, "index": torch.arange(6)})
    torch.manual_seed(1)
    part, _ = consistency_loss(model, x, y, cfg)
    _, chroma, bright = batch_penalties(model, x, y, chunk=4)  # chunking does not change the means
    assert torch.allclose(loss, part + 3.0 * chroma + 0.5 * bright, rtol=1e-5)
    assert logs["chroma_grad"] > 0 and cls.knows == "the shortcut's type"
