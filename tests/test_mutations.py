"""Tests written during the mutation pass of issue 13 (docs/mutation-pass.md): each one kills a
hand-made mutation of a method module that no earlier test noticed. Tiny constructed tensors and
models, analytic expected values where they can be known; CPU only, no MNIST."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lazyartist_cli.strategies import StrategyContext, get_strategy
from lazyartist_cli.strategies import colorops

# ---------------------------------------------------------------- colour ops


def test_stroke_recolor_is_exact_on_a_plain_background_with_partial_coverage():
    """x = b + t (c - b) with coverage t in [0, 1] becomes b + t (c' - b) exactly: background read as the
    median (a 30% stroke pulls the mean toward the stroke), coverage as the projection on c - b."""
    t = torch.zeros(1, 1, 10, 10)
    t[..., :3, :] = 1.0  # 30 fully covered pixels: more than `top`, less than half the image
    t[..., 3, :5] = 0.5  # edge pixels, half covered
    t[..., 3, 5:] = 0.25
    b = torch.tensor([0.1, 0.12, 0.08]).view(1, 3, 1, 1)
    c = torch.tensor([0.9, 0.2, 0.1]).view(1, 3, 1, 1)
    x = (b + t * (c - b)).expand(2, -1, -1, -1).contiguous()
    torch.manual_seed(5)
    new = colorops.random_hsv(2)[:, :, None, None]
    torch.manual_seed(5)
    out = colorops.stroke_recolor(x)
    assert torch.allclose(out, (b + t * (new - b)).clamp(0, 1), atol=1e-5)


def test_contrast_blends_with_the_mean_luminance_not_the_channel_means():
    x = torch.zeros(3, 3, 6, 6)
    x[:, 0, 1:4, 2:4] = 0.8  # a red stroke on black: G and B are zero everywhere
    torch.manual_seed(0)
    f = colorops._factor(3, 0.5, None)
    torch.manual_seed(0)
    out = colorops.contrast(x, 0.5)
    m = (0.299 * x[:, 0]).mean((1, 2)).view(3, 1, 1, 1)  # one gray level per image
    assert torch.allclose(out, (m + f * (x - m)).clamp(0, 1), atol=1e-6)
    assert (out[:, 1] > 0).any()  # with f < 1 the image moves toward gray: G rises off zero


def test_jitter_factors_cover_both_sides_of_one():
    torch.manual_seed(0)
    f = colorops._factor(2000, 0.5, None)
    assert f.min() >= 0.5 and f.max() <= 1.5
    assert f.min() < 0.55 and f.max() > 1.45  # darker and brighter, contrast lowered and raised
    assert colorops._factor(100, 1.0, None).min() >= 0.0  # never a negative factor


def test_recolor_views_passes_the_strength_to_the_jitter_ops():
    torch.manual_seed(0)
    x = torch.rand(6, 3, 5, 5) * 0.8 + 0.1
    jitter = ["brightness", "contrast", "saturation", "gamma"]
    for compose in (True, False):
        assert torch.allclose(colorops.recolor_views(x, jitter, compose=compose, strength=0.0), x, atol=1e-6)
        assert not torch.allclose(colorops.recolor_views(x, jitter, compose=compose, strength=0.8), x, atol=1e-2)


# ---------------------------------------------------------------- strategies


def _linear(k=10, d=3 * 4 * 4, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(d, k))


def _kl(p, q):
    return (p * (p.log() - q.log())).sum(1).mean()


@pytest.mark.parametrize("ce_on_clean", [True, False])
def test_consistency_loss_by_hand(ce_on_clean):
    """CE on both views + kl_weight * 0.5 (KL(pa||pb) + KL(pb||pa)), with the views drawn from the same seed."""
    from lazyartist_cli.strategies.colorops import recolor_views
    from lazyartist_cli.strategies.consistency import symmetric_kl

    model = _linear()
    x, y = torch.rand(5, 3, 4, 4), torch.tensor([0, 1, 2, 3, 4])
    cls = get_strategy("consistency")
    s = cls(cls.Config(ops=["permute"], compose=False, kl_weight=2.5, ce_on_clean=ce_on_clean))
    torch.manual_seed(1)
    loss, logs = s.loss(model, {"x": x, "y": y, "index": torch.arange(5)})
    torch.manual_seed(1)
    views = recolor_views(x, ["permute"], False, 0.8)
    la, lb = model(x), model(views)
    pa, pb = la.softmax(1), lb.softmax(1)
    kl = 0.5 * (_kl(pa, pb) + _kl(pb, pa))
    ce = F.cross_entropy(la, y) if ce_on_clean else 0.0
    assert torch.allclose(loss, ce + F.cross_entropy(lb, y) + 2.5 * kl, atol=1e-6)
    assert logs["kl"] > 1e-4  # the two views did differ
    assert torch.allclose(symmetric_kl(la, lb), symmetric_kl(lb, la))


def test_chromatic_part_removes_exactly_the_gray_direction():
    from lazyartist_cli.strategies.input_gradient import chromatic_part

    gray = torch.ones(2, 3, 4, 4) * torch.randn(2, 1, 4, 4)
    assert chromatic_part(gray).abs().max() < 1e-6
    chroma = torch.tensor([1.0, -1.0, 0.0]).view(1, 3, 1, 1).expand(2, 3, 4, 4)
    assert torch.allclose(chromatic_part(chroma), chroma)
    assert torch.allclose(chromatic_part(gray + chroma), chroma, atol=1e-6)


def test_input_gradient_loss_is_the_batch_mean_over_chunks_and_its_penalty_trains_the_model():
    from lazyartist_cli.strategies.input_gradient import rrr_penalties

    model = _linear()
    x, y = torch.rand(5, 3, 4, 4), torch.tensor([0, 1, 2, 3, 4])
    cls = get_strategy("input-gradient")
    s = cls(cls.Config(weight=3.0, brightness_weight=0.5))
    s.chunk = 2  # chunks of 2, 2 and 1 images
    loss, logs = s.loss(model, {"x": x, "y": y, "index": torch.arange(5)})
    ce, chroma, bright = rrr_penalties(model, x, y, create_graph=True)
    expected = (ce + 3.0 * chroma + 0.5 * bright) / 5
    assert torch.allclose(loss, expected, rtol=1e-5)
    assert logs["chroma_grad"] == pytest.approx(chroma.item() / 5, rel=1e-5)
    # the penalties themselves carry gradient to the weights (double backward), not only the CE
    (g,) = torch.autograd.grad(loss, model[1].weight)
    (g_ref,) = torch.autograd.grad(expected, model[1].weight, retain_graph=True)
    (g_ce,) = torch.autograd.grad(ce / 5, model[1].weight)
    assert torch.allclose(g, g_ref, rtol=1e-4, atol=1e-7) and not torch.allclose(g, g_ce, atol=1e-4)


def test_gce_loss_by_hand():
    from lazyartist_cli.strategies.lff import gce_loss

    logits = torch.log(torch.tensor([[0.25, 0.75], [0.64, 0.36]]))
    y = torch.tensor([0, 0])
    # (1 - p^q) / q: p = 0.25, q = 0.5 -> 1; p = 0.64 -> 0.4
    assert torch.allclose(gce_loss(logits, y, 0.5), torch.tensor([1.0, 0.4]), atol=1e-6)
    assert torch.allclose(gce_loss(logits, y, 1.0), torch.tensor([0.75, 0.36]), atol=1e-6)


def test_lff_loss_ema_keeps_the_old_value_with_weight_ema():
    from lazyartist_cli.strategies.lff import relative_difficulty

    labels = torch.tensor([0, 1, 0, 1])
    ctx = StrategyContext(lambda: _linear(k=2), n_train=4, labels=labels)
    cls = get_strategy("lff")
    lff = cls(cls.Config(ema=0.7), ctx)
    idx, y = torch.tensor([1, 3]), torch.tensor([1, 1])
    relative_difficulty(lff, idx, y, torch.tensor([2.0, 4.0]), torch.tensor([1.0, 1.0]), 0.7, 2)
    assert torch.equal(lff.ema_b[idx], torch.tensor([2.0, 4.0]))  # unseen: the value itself
    assert lff.seen.tolist() == [False, True, False, True]
    w = relative_difficulty(lff, idx, y, torch.tensor([4.0, 0.0]), torch.tensor([1.0, 1.0]), 0.7, 2)
    assert torch.allclose(lff.ema_b[idx], torch.tensor([0.7 * 2 + 0.3 * 4, 0.7 * 4]))
    # class 1's maximum over the training set normalises both losses: L_b / max_b against L_d / max_d (= 1)
    lb = torch.tensor([0.7 * 2 + 0.3 * 4, 0.7 * 4]) / (0.7 * 4)
    assert torch.allclose(w, lb / (lb + 1 + 1e-8))
    # loss() marks exactly the batch's rows as seen
    lff2 = cls(cls.Config(), ctx)
    lff2.loss(_linear(k=2), {"x": torch.rand(2, 3, 4, 4), "y": torch.tensor([1, 1]), "index": idx})
    assert lff2.seen.tolist() == [False, True, False, True]


def test_focal_loss_by_hand():
    model = nn.Identity()
    logits = torch.log(torch.tensor([[0.2, 0.8], [0.6, 0.4]]))
    batch = {"x": logits, "y": torch.tensor([1, 1]), "index": torch.arange(2)}
    cls = get_strategy("focal")
    loss, _ = cls(cls.Config(gamma=2.0)).loss(model, batch)
    expected = -(0.2**2 * math.log(0.8) + 0.6**2 * math.log(0.4)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss0, _ = cls(cls.Config(gamma=0.0)).loss(model, batch)
    assert loss0.item() == pytest.approx(F.cross_entropy(logits, batch["y"]).item(), rel=1e-6)


class _ConstantLogits(nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.z = nn.Parameter(logits)

    def forward(self, x):
        return self.z.expand(x.shape[0], -1)


def test_color_entropy_is_kl_from_uniform_by_hand():
    p = torch.tensor([0.5, 0.25, 0.125, 0.125])
    model = _ConstantLogits(p.log())
    cls = get_strategy("color-entropy")
    s = cls(cls.Config(weight=2.0, n_solid=3), StrategyContext(palette=torch.rand(2, 3)))
    x, y = torch.rand(3, 3, 4, 4), torch.tensor([0, 1, 2])
    loss, logs = s.loss(model, {"x": x, "y": y, "index": torch.arange(3)})
    kl = (0.25 * (math.log(0.25) - p.log())).sum().item()  # KL(uniform || p)
    assert logs["kl_uniform_solid"] == pytest.approx(kl, rel=1e-5)
    assert loss.item() == pytest.approx(F.cross_entropy(p.log().expand(3, -1), y).item() + 2.0 * kl, rel=1e-5)
    _, logs = s.loss(_ConstantLogits(torch.zeros(4)), {"x": x, "y": y, "index": torch.arange(3)})
    assert abs(logs["kl_uniform_solid"]) < 1e-6


def test_neuron_suppression_switches_off_the_most_colour_selective_channel(monkeypatch):
    import lazyartist_cli.strategies.neuron_suppression as ns_mod

    monkeypatch.setattr(ns_mod, "recolor_views", lambda x, ops, compose: x[:, [1, 0, 2]])  # red <-> green
    conv = nn.Conv2d(3, 2, 1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[0, 0] = 1.0  # reads red: changes when red becomes green
        conv.weight[1] = 1.0 / 3  # reads the gray level: does not
    model = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 10))
    cls = get_strategy("neuron-suppression")
    ns = cls(cls.Config(fraction=0.5, rounds=1, every=1, warmup=0), StrategyContext(model_builder=lambda: model))
    x = torch.zeros(4, 3, 6, 6)
    x[:, 0, 1:5, 2:4] = 1.0
    ns.loss(model, {"x": x, "y": torch.arange(4), "index": torch.arange(4)})
    assert ns.suppressed.tolist() == [True, False]


def test_colour_selectivity_counts_changes_of_either_sign():
    """Half the images red, half green; the views swap red and green: the red channel's response goes up
    on one half and down on the other, and must not average out."""
    from lazyartist_cli.strategies.neuron_suppression import color_selectivity

    conv = nn.Conv2d(3, 1, 1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[0, 0] = 1.0
    x = torch.zeros(4, 3, 4, 4)
    x[:2, 0] = 1.0
    x[2:, 1] = 1.0
    assert color_selectivity(conv, x, x[:, [1, 0, 2]]).item() == pytest.approx(2.0)  # |1 - 0| / mean(0.5, 0.5)


# ---------------------------------------------------------------- attacks


class _Ramp(nn.Module):
    """Two classes; logit 1 = 100 (x - 0.5) for a one-pixel image, so each PGD step of 0.01 adds 1 to it."""

    def forward(self, x):
        z = 100 * (x.flatten(1).mean(1) - 0.5)
        return torch.stack([torch.zeros_like(z), z], 1)


def test_pgd_counts_the_steps_taken_until_success_exactly():
    from lazyartist_cli.attacks import ATTACKS

    x = torch.full((2, 1, 1, 1), 0.5)
    x[1] = 0.6  # already predicted as the target with p = sigmoid(10) > 0.9
    res = ATTACKS["pgd"](eps=0.1, step=0.01, steps=10)(_Ramp(), x, torch.tensor([1, 1]))
    # p_1 = sigmoid(n) reaches 0.9 at n = 3 steps (sigmoid(2) = 0.88)
    assert res.iterations.tolist() == [3, 0] and res.success.all()
    assert res.x_adv[0].item() == pytest.approx(0.53, abs=1e-6) and res.x_adv[1].item() == pytest.approx(0.6)


def test_success_needs_the_confidence_not_only_the_argmax():
    from lazyartist_cli.attacks import ATTACKS

    x = torch.full((1, 1, 1, 1), 0.504)  # p_1 = sigmoid(0.4) = 0.6: the target already wins, but unconfidently
    for name in ("fgsm", "pgd"):
        res = ATTACKS[name](eps=0.0)(_Ramp(), x, torch.tensor([1]))
        assert not res.success.any() and res.pred.tolist() == [1]


def test_pgd_random_start_stays_in_the_ball_and_the_box():
    from lazyartist_cli.attacks import ATTACKS

    x = torch.zeros(4, 3, 5, 5)
    x[:, :, 2:] = 1.0
    res = ATTACKS["pgd"](eps=0.2, steps=0, random_start=True)(_Ramp(), x, torch.ones(4, dtype=torch.long))
    assert res.x_adv.min() >= 0 and res.x_adv.max() <= 1 and (res.x_adv - x).abs().max() <= 0.2 + 1e-7
    assert (res.x_adv != x).any()  # the start did move


# ---------------------------------------------------------------- attributions


def _TwoChannel() -> nn.Module:
    """test_interpret's 1x1 R/G model, rectified, with a bias on the third class."""
    from tests.test_interpret import TwoChannel

    return TwoChannel(relu=True, bias=(0.0, 0.0, 1.0))


def test_gradcam_explains_the_predicted_class_by_default():
    from lazyartist_cli.interpret.gradcam import GradCAM

    x = torch.rand(6, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    x[:3, 0] += 2.0  # class 0 wins
    x[3:, 1] += 2.0  # class 1 wins
    model = _TwoChannel()
    pred = model(x).argmax(1)
    assert pred.tolist() == [0, 0, 0, 1, 1, 1]
    res = GradCAM("conv")(model, x)
    assert torch.equal(res.target, pred)
    assert torch.allclose(res.maps, GradCAM("conv")(model, x, pred).maps)


def test_integrated_gradients_riemann_sum_is_exact_for_a_quadratic_with_any_baseline():
    """y = sum(x^2) along a straight path has a gradient linear in alpha: the midpoint rule is exact
    even with 2 steps, and completeness gives y(x) - y(x') for a non-zero baseline."""
    from lazyartist_cli.interpret.integrated_gradients import integrated_gradients

    class Square(nn.Module):
        def forward(self, x):
            s = x.pow(2).flatten(1).sum(1)
            return torch.stack([s, -s], 1)

    x = torch.rand(3, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    target = torch.zeros(3, dtype=torch.long)
    attr = integrated_gradients(Square(), x, target, steps=2)
    assert torch.allclose(attr, x.pow(2), atol=1e-6)  # per pixel: int 2 a x^2 da = x^2
    base = torch.full((1, 3, 4, 4), 0.5)
    attr = integrated_gradients(Square(), x, target, steps=2, baseline=base)
    assert torch.allclose(attr, x.pow(2) - 0.25, atol=1e-6)


def test_saliency_is_the_largest_absolute_channel_gradient():
    from lazyartist_cli.interpret import ATTRIBUTIONS

    w = torch.zeros(2, 3, 2, 2)
    w[0, 0] = torch.tensor([[-3.0, 1.0], [0.5, 0.0]])
    w[0, 1] = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(w.flatten(1))
    res = ATTRIBUTIONS["saliency"]()(model, torch.rand(1, 3, 2, 2), torch.tensor([0]))
    expected = torch.tensor([[3.0, 2.0], [0.5, 0.0]]) / 3.0
    assert torch.allclose(res.maps[0], expected)


def test_chromatic_share_of_a_zero_attribution_is_one_half():
    from lazyartist_cli.interpret.chromatic import chromatic_share

    z = torch.zeros(2, 3, 3)
    share = chromatic_share(z, torch.stack([torch.zeros(3, 3), torch.ones(3, 3)]))
    assert share.tolist() == [0.5, 1.0]


def test_gradcam_x_gradient_scales_the_gradient_split_by_the_cam_and_mode_is_restored():
    from lazyartist_cli.interpret.chromatic import color_components
    from lazyartist_cli.interpret.gradcam import grad_cam

    model = _TwoChannel().eval()
    x = torch.rand(4, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    target = torch.tensor([0, 1, 1, 0])
    g, c, _ = color_components("gradcam-x-gradient", model, x, target, layer="act")
    gs, cs, _ = color_components("saliency", model, x, target)
    cam = grad_cam(model, x, "act", target)
    assert (cam < 0.99).any()  # the cam is not all ones
    assert torch.allclose(g, cam * gs, atol=1e-6) and torch.allclose(c, cam * cs, atol=1e-6)
    assert not model.training
    _, _, t = color_components("saliency", model, x)
    assert torch.equal(t, model(x).argmax(1))


def test_a_unit_with_a_tiny_spread_is_weak_whatever_its_scores():
    from lazyartist_cli.interpret.selectivity import LABELS, selectivity_scores

    d, k = 20, 10
    labels = torch.arange(d) % 10
    colour = torch.arange(k, dtype=torch.float)[None, :].expand(d, k)
    r = torch.stack([colour, 1e-4 * colour], dim=2)  # the second unit: colour-tuned but 1e-4 of the spread
    out = selectivity_scores(r, labels)
    assert out["colour"][1] == pytest.approx(1.0)
    assert [LABELS[i] for i in out["label"]] == ["colour", "weak/dead"]


def test_color_reliance_restores_the_model_mode():
    from lazyartist_cli.interpret.reliance import color_reliance

    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 10))
    color_reliance(model.train(), torch.rand(10, 3), size=4)
    assert model.training
    color_reliance(model.eval(), torch.rand(10, 3), size=4)
    assert not model.training


def test_activation_maximisation_keeps_the_best_restart():
    from lazyartist_cli.interpret.actmax import ActMaxConfig, PixelImage, activation_maximization

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    units = torch.tensor([0, 3])
    cfg = ActMaxConfig(steps=0, param="pixel", size=8, restarts=4)
    _, reached, _ = activation_maximization(model, "3", units, cfg, seed=7)
    # steps = 0: the images are the starts, rebuilt here from the same seed (restart j of unit i: row j * 2 + i)
    starts = PixelImage(8, 8, torch.Generator().manual_seed(7))()
    with torch.no_grad():
        all_reached = model(starts)[torch.arange(8), units.repeat(4)].view(4, 2)
    assert torch.allclose(reached, all_reached.max(0).values)
    assert not torch.allclose(reached, all_reached.min(0).values)


# ---------------------------------------------------------------- metrics


def test_bootstrap_interval_has_the_stated_level():
    from lazyartist_cli.metrics import bootstrap_ci

    v = torch.tensor([0.0, 1.0] * 200)  # standard error 0.025
    for level, z in ((0.95, 1.96), (0.5, 0.674)):
        mean, lo, hi = bootstrap_ci(v, level=level, seed=0)
        assert (hi - lo) / 2 == pytest.approx(z * 0.025, abs=0.004), level  # means are multiples of 1/400


def test_bootstrap_resamples_can_draw_the_last_value_and_the_mean_is_the_sample_mean():
    from lazyartist_cli.metrics import bootstrap_ci

    v = torch.zeros(10)
    v[-1] = 1.0
    mean, lo, hi = bootstrap_ci(v, seed=0)
    assert mean == pytest.approx(0.1) and lo == 0.0 and hi >= 0.1
    assert bootstrap_ci(torch.tensor([0.0, 1.0, 1.0]), seed=1)[0] == pytest.approx(2 / 3, abs=1e-12)


def test_touching_intervals_overlap_and_entropy_of_a_certain_prediction_is_zero():
    from lazyartist_cli.metrics import entropy, intervals_overlap

    assert intervals_overlap((0.0, 0.0, 1.0), (1.0, 1.0, 2.0)) and intervals_overlap((1.0, 1.0, 2.0), (0.0, 0.0, 1.0))
    assert entropy(torch.tensor([[1.0, 0.0]])).tolist() == [0.0]


# ---------------------------------------------------------------- sparse autoencoders


def test_topk_keeps_the_k_largest_pre_activations():
    from lazyartist_cli.sae.model import SparseAutoencoder

    torch.manual_seed(0)
    sae = SparseAutoencoder(4, expansion=2, kind="topk", k=2)
    with torch.no_grad():
        sae.encoder.weight.zero_()
        sae.encoder.bias.copy_(torch.tensor([0.1, 0.5, 0.2, 0.9, 0.3, 0.05, 0.4, 0.0]))
    z = sae.encode(torch.zeros(3, 4))
    assert torch.equal(z[0], torch.tensor([0.0, 0.5, 0.0, 0.9, 0.0, 0.0, 0.0, 0.0]))


def test_topk_loss_and_auxk_by_hand():
    """loss = MSE / variance + aux_coef * MSE(e_hat, e) / MSE(mean(e), e); e = x - x_hat (no gradient), e_hat
    decoded (no bias) from the k_aux largest pre-activations among the dead latents."""
    from lazyartist_cli.sae.model import SparseAutoencoder

    torch.manual_seed(0)
    sae = SparseAutoencoder(4, expansion=2, kind="topk", k=1, k_aux=2, aux_coef=0.5)
    with torch.no_grad():
        sae.encoder.bias.fill_(0.3)  # every latent positive: the dead ones contribute
    x = torch.randn(6, 4)
    dead = torch.tensor([False, True, False, True, True, False, False, False])
    loss, logs, z = sae.loss(x, dead, variance=2.0)
    with torch.no_grad():
        pre = torch.relu(x @ sae.encoder.weight.T + sae.encoder.bias)  # b_dec = 0
        W = sae.decoder.weight  # (d, m)
        e_hat, x_hat = torch.zeros(6, 4), torch.zeros(6, 4)
        for i in range(6):
            j = int(pre[i].argmax())
            x_hat[i] = pre[i, j] * W[:, j]
            order = sorted((int(m) for m in dead.nonzero()), key=lambda m: -pre[i, m].item())[:2]
            e_hat[i] = sum(pre[i, m] * W[:, m] for m in order)
        mse = (x_hat - x).pow(2).mean()
        e = x - x_hat
        aux = (e_hat - e).pow(2).mean() / (e - e.mean(0)).pow(2).mean()
    assert logs["mse"] == pytest.approx(mse.item(), rel=1e-5) and logs["aux"] == pytest.approx(aux.item(), rel=1e-5)
    assert loss.item() == pytest.approx(mse.item() / 2.0 + 0.5 * aux.item(), rel=1e-5)


def test_l1_penalty_is_weighted_by_the_decoder_column_norms():
    from lazyartist_cli.sae.model import SparseAutoencoder

    torch.manual_seed(0)
    sae = SparseAutoencoder(4, expansion=2, kind="l1", l1=0.1)
    with torch.no_grad():
        sae.decoder.weight.mul_(3.0)  # unit columns at init, now norm 3
    x = torch.randn(5, 4)
    loss, logs, z = sae.loss(x)
    assert logs["l1"] == pytest.approx(3.0 * z.sum(1).mean().item(), rel=1e-5)
    assert loss.item() == pytest.approx(logs["mse"] + 0.1 * logs["l1"], rel=1e-5)


def test_decoder_columns_are_unit_norm_after_topk_training():
    from lazyartist_cli.sae.model import SparseAutoencoder, train_sae

    torch.manual_seed(0)
    sae = SparseAutoencoder(4, expansion=2, kind="topk", k=2)
    with torch.no_grad():
        sae.decoder.weight.mul_(torch.rand(1, 8) + 0.5)
    sae.normalize_decoder()
    assert torch.allclose(sae.decoder.weight.norm(dim=0), torch.ones(8), atol=1e-6)
    train_sae(sae, torch.randn(64, 4), epochs=1, batch_size=16, lr=1e-2, seed=0)
    assert torch.allclose(sae.decoder.weight.norm(dim=0), torch.ones(8), atol=1e-6)


def test_a_latent_is_dead_once_it_has_not_fired_for_dead_after_samples():
    """Latents 0 and 1 each fire on half of every batch (never dead); latents 2 and 3 never fire and are dead
    from the batch where they have missed dead_after = 32 samples (batches of 16: the third batch on)."""
    from lazyartist_cli.sae.model import SparseAutoencoder, train_sae

    sae = SparseAutoencoder(2, expansion=2, kind="topk", k=1)
    with torch.no_grad():
        sae.encoder.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]))
        sae.encoder.bias.copy_(torch.tensor([0.0, 0.0, -1.0, -1.0]))
    acts = torch.eye(2).repeat(32, 1)  # rows alternate e1, e2; b_dec becomes (0.5, 0.5)
    seen = []
    real_loss = sae.loss

    def recording_loss(x, dead=None, variance=None):
        seen.append(dead.clone())
        return real_loss(x, dead, variance)

    sae.loss = recording_loss
    train_sae(sae, acts, epochs=1, batch_size=16, lr=1e-6, seed=0, dead_after=32)
    assert [d.tolist() for d in seen] == [[False] * 4, [False] * 4] + [[False, False, True, True]] * 2


def test_error_term_intervention_moves_the_output_by_the_scaled_decoder_column():
    from lazyartist_cli.sae.analysis import replace_layer_output
    from lazyartist_cli.sae.model import SparseAutoencoder

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Identity(), nn.Linear(4, 2))
    sae = SparseAutoencoder(4, expansion=2, kind="topk", k=2)
    x = torch.randn(5, 4)
    with torch.no_grad():
        h = model[0](x)
        z = sae.encode(h)
        i = int(z.sum(0).argmax())
        captured = {}
        model[1].register_forward_hook(lambda m, a, out: captured.__setitem__("h", out))
        with replace_layer_output(model, model[0], sae, {i: 3.0}):
            model(x)
    assert torch.allclose(captured["h"], h + 2.0 * z[:, i : i + 1] * sae.decoder.weight[:, i], atol=1e-6)


def test_dead_fraction_counts_the_latents_that_never_fire():
    from lazyartist_cli.sae.analysis import sae_metrics
    from lazyartist_cli.sae.model import SparseAutoencoder

    sae = SparseAutoencoder(2, expansion=4, kind="topk", k=8)
    with torch.no_grad():
        sae.encoder.weight.zero_()
        sae.encoder.bias.copy_(torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0]))
    assert sae_metrics(sae, torch.randn(10, 2))["dead_fraction"] == 0.25
