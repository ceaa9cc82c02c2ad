"""Attacks: the eps-ball and [0, 1] hold exactly, eps = 0 changes nothing,
success grows with eps on a trained toy model, the model's mode is restored."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lazyartist_cli.attacks import ATTACKS, get_attack
from lazyartist_cli.errors import UsageError
from lazyartist_cli.models import build_model


def make(name, eps):
    return ATTACKS[name](eps=eps) if name == "fgsm" else ATTACKS[name](eps=eps, step=max(eps / 4, 1e-4), steps=30)


@pytest.mark.parametrize("name", sorted(ATTACKS))
@pytest.mark.parametrize("eps", [0.01, 0.05, 0.3])
def test_perturbation_stays_in_ball_and_box(name, eps):
    torch.manual_seed(0)
    model = build_model("lazy-cnn")
    x = torch.rand(16, 3, 28, 28)
    x[:, :, :4] = 0.0  # pixels at the box edges
    x[:, :, -4:] = 1.0
    res = make(name, eps)(model, x, torch.full((16,), 3))
    assert (res.x_adv - x).abs().max() <= eps + 1e-7
    assert res.x_adv.min() >= 0.0 and res.x_adv.max() <= 1.0


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_eps_zero_gives_clean_predictions(name):
    torch.manual_seed(0)
    model = build_model("lazy-cnn")
    x = torch.rand(8, 3, 28, 28)
    res = ATTACKS[name](eps=0.0)(model, x, torch.full((8,), 3))
    assert torch.equal(res.x_adv, x)
    assert torch.equal(res.pred, model.eval()(x).argmax(1))


def toy_model_and_data():
    """A linear classifier trained to separate two blobs of images (class 7 vs 3)."""
    torch.manual_seed(0)
    n = 200
    base = torch.rand(n, 3, 8, 8) * 0.2
    y = torch.where(torch.arange(n) % 2 == 0, 7, 3)
    x = base + (y == 7).float()[:, None, None, None] * 0.6
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 64, 10))
    opt = torch.optim.Adam(model.parameters(), 0.05)
    for _ in range(100):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, x[y == 7]


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_success_does_not_fall_as_eps_grows(name):
    model, x = toy_model_and_data()
    target = torch.full((x.shape[0],), 3)
    rates = [make(name, eps)(model, x, target).success.float().mean().item() for eps in (0.0, 0.05, 0.1, 0.2, 0.4, 0.8)]
    assert rates == sorted(rates) and rates[0] == 0.0 and rates[-1] == 1.0


def test_pgd_stops_early_and_counts_iterations():
    model, x = toy_model_and_data()
    res = ATTACKS["pgd"](eps=0.8, step=0.1, steps=50)(model, x, torch.full((x.shape[0],), 3))
    assert res.success.all() and res.iterations.max() < 50 and res.iterations.min() >= 1


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_model_mode_is_restored(name):
    model = build_model("small-cnn")
    model.train()
    make(name, 0.05)(model, torch.rand(4, 3, 28, 28), torch.full((4,), 3))
    assert model.training
    model.eval()
    make(name, 0.05)(model, torch.rand(4, 3, 28, 28), torch.full((4,), 3))
    assert not model.training


def test_unknown_attack():
    with pytest.raises(UsageError, match="valid: fgsm, pgd"):
        get_attack("cw")


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attacking_in_chunks_equals_one_batch(name):
    torch.manual_seed(0)
    model = build_model("lazy-cnn")
    x, target = torch.rand(21, 3, 28, 28), torch.full((21,), 3)
    attack = make(name, 0.05)
    attack.confidence = 0.3  # some images stop early, at different steps
    attack.batch_size = 8
    chunked = attack(model, x, target)
    attack.batch_size = 1000
    whole = attack(model, x, target)
    assert torch.allclose(chunked.x_adv, whole.x_adv, atol=1e-6)
    assert torch.equal(chunked.iterations, whole.iterations) and torch.equal(chunked.success, whole.success)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_attack_is_built_from_config(name):
    from lazyartist_cli.attacks import ATTACKS
    from lazyartist_cli.config import AttackConfig

    a = AttackConfig(steps=7, step=0.02, batch_size=0, confidence=0.8)
    attack = ATTACKS[name].from_config(a, eps=0.03, seed=5, steps=None)
    assert attack.eps == 0.03 and attack.confidence == 0.8 and attack.batch_size > 10**9  # 0: one batch
    if name == "pgd":
        assert (attack.steps, attack.step, attack.seed) == (7, 0.02, 5)
        assert ATTACKS[name].from_config(a, eps=0.03, steps=3).steps == 3


class TwoFaced(nn.Module):
    """Predicts class 3 with certainty under a bf16 autocast and nothing in particular in fp32."""

    def forward(self, x):
        logits = x.flatten(1)[:, :10] * 1e-3
        if torch.is_autocast_enabled("cpu"):
            logits = logits + 20.0 * F.one_hot(torch.full((x.shape[0],), 3), 10)
        return logits


def test_bf16_pgd_stops_an_image_only_when_fp32_agrees():
    x = torch.rand(6, 3, 8, 8)
    target = torch.full((6,), 3)
    pgd = ATTACKS["pgd"](eps=0.05, step=0.01, steps=4)
    pgd.precision = "bf16"
    res = pgd(TwoFaced(), x, target)
    assert not res.success.any() and (res.iterations == 5).all()  # never stopped on a bf16-only success


def test_bf16_gradient_steps_find_what_fp32_finds():
    model, x = toy_model_and_data()
    target = torch.full((x.shape[0],), 3)
    from lazyartist_cli.attacks.base import target_loss_grad

    g32, _ = target_loss_grad(model, x, target)
    g16, _ = target_loss_grad(model, x, target, "bf16")
    assert g16.dtype == torch.float32 and F.cosine_similarity(g16.flatten(), g32.flatten(), dim=0) > 0.99
    rates = {}
    for precision in ("fp32", "bf16"):
        pgd = ATTACKS["pgd"](eps=0.2, step=0.02, steps=30)
        pgd.precision = precision
        res = pgd(model, x, target)
        rates[precision] = res.success.float().mean().item()
        stopped = res.iterations <= 30
        assert torch.equal(res.success, pgd.evaluate(model, res.x_adv, target)[0]) and res.success[stopped].all()
    assert abs(rates["fp32"] - rates["bf16"]) <= 0.05


def test_attack_precision_is_read_from_the_config():
    from lazyartist_cli.config import load_config

    a = load_config(None, {"attack.precision": "bf16"}).attack
    assert ATTACKS["pgd"].from_config(a, 0.05).precision == "bf16"
    assert ATTACKS["pgd"].from_config(load_config(None, {}).attack, 0.05).precision == "auto"
    with pytest.raises(Exception, match="precision"):
        load_config(None, {"attack.precision": "fp8"})
