"""DeNetDM (strategies/denetdm.py) against its released code's formulas (kadarsh22/DeNetDM)."""

import pytest
import torch
import torch.nn.functional as F

from lazyartist_cli.models import build_model
from lazyartist_cli.strategies import StrategyContext, build_strategy, get_strategy


def _setup(k=1):
    torch.manual_seed(0)
    model = build_model("mlp-deep")
    s = build_strategy("denetdm", get_strategy("denetdm").Config(stage1_epochs=k),
                       StrategyContext(lambda: build_model("mlp-deep"), n_train=8))
    batch = {"x": torch.rand(6, 3, 28, 28), "y": torch.tensor([0, 1, 2, 3, 4, 5]), "index": torch.arange(6)}
    return model, s, batch


def test_stage_one_is_a_product_of_the_two_experts_with_l2_and_leaves_the_kept_model_alone():
    model, s, batch = _setup()
    s.before_epoch(1, model, batch["x"], batch["y"])
    loss, logs = s.loss(model, batch)
    f = batch["x"].flatten(1)
    h_s, h_d = s.shallow(f), s.deep(f)
    z = s.head1(h_s + h_d)
    # the summed features through one head are the normalised product of the experts' softmaxes (head bias once)
    prod = F.softmax(s.head1(h_s), 1) * F.softmax(h_d @ s.head1.weight.T, 1)
    assert torch.allclose(F.softmax(z, 1), prod / prod.sum(1, keepdim=True), atol=1e-6)
    l2 = sum((p ** 2).sum() for m in (s.shallow, s.deep, s.head1) for p in m.parameters())
    assert torch.allclose(loss, F.cross_entropy(z, batch["y"]) + 0.5e-3 * l2)
    loss.backward()
    assert all(p.grad is None for p in model.parameters())


def test_the_hand_off_copies_the_stage_one_head_once_and_stage_two_distils_from_the_frozen_shallow_expert():
    model, s, batch = _setup()
    s.before_epoch(2, model, batch["x"], batch["y"])
    assert torch.equal(model.head.weight, s.head1.weight) and bool(s.switched)
    with torch.no_grad():
        model.head.weight.add_(1.0)
    s.before_epoch(3, model, batch["x"], batch["y"])  # a later epoch (or a resumed run): no second copy
    assert not torch.equal(model.head.weight, s.head1.weight)
    loss, logs = s.loss(model, batch)
    f = batch["x"].flatten(1)
    st = model(batch["x"])
    z = st + s.deep(f) @ model.head.weight.T
    t = s.head1(s.shallow(f))
    dist = 4 * (-(F.softmax(t / 2, 1) * F.log_softmax(st / 2, 1)).sum(1)).mean()
    assert torch.allclose(loss, F.cross_entropy(z, batch["y"]) + dist, atol=1e-5)
    loss.backward()
    assert all(p.grad is None for m in (s.shallow, s.deep, s.head1) for p in m.parameters())
    assert model.head.weight.grad is not None


def test_its_runs_need_a_second_stage_and_a_head_as_wide_as_its_branches():
    cls = get_strategy("denetdm")
    assert "no second stage" in cls.check_epochs(cls.Config(), 100) and cls.check_epochs(cls.Config(), 200) is None
    model, s, batch = _setup()
    from lazyartist_cli.errors import UsageError
    with pytest.raises(UsageError, match="reads 64 features"):
        s.before_epoch(1, build_model("lazy-cnn"), batch["x"], batch["y"])
