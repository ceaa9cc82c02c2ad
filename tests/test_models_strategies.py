"""Registry-parametrised smoke tests: every model x every strategy takes a step."""

import pytest
import torch

from lazyartist_cli.config import load_config
from lazyartist_cli.errors import UsageError
from lazyartist_cli.models import MODELS, build_model, register
from lazyartist_cli.strategies import STRATEGIES, StrategyContext, build_strategy, get_strategy
from lazyartist_cli.strategies.colorops import COLOR_OPS, solid_colors


@pytest.mark.parametrize("model_name", sorted(MODELS))
@pytest.mark.parametrize("strategy_name", sorted(STRATEGIES))
def test_every_model_and_strategy_takes_a_step(model_name, strategy_name):
    cls = get_strategy(strategy_name)
    owned = {m for c in STRATEGIES.values() for m in c.requires_model}
    if (cls.requires_model or model_name in owned) and model_name not in cls.requires_model:
        return  # a pairing the run config refuses (test_dfa_lc.py)
    torch.manual_seed(0)
    model = build_model(model_name)
    ctx = StrategyContext(lambda: build_model(model_name), n_train=8, palette=torch.rand(10, 3),
                          labels=torch.arange(8) % 4, colors=(torch.arange(8) + 1) % 10)
    options = {}
    if strategy_name == "denetdm":  # its first stage after one epoch, its branches as wide as the model's head reads
        options = {"stage1_epochs": 1, "width": [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1].in_features}
    try:
        strategy = build_strategy(strategy_name, get_strategy(strategy_name).Config(**options), ctx)
    except UsageError as exc:  # a strategy built on conv channels says so for a network without them
        assert strategy_name == "neuron-suppression" and model_name.startswith("mlp") and "Conv2d" in str(exc)
        return
    batch = {"x": torch.rand(4, 3, 28, 28), "y": torch.tensor([0, 1, 2, 3]), "index": torch.tensor([0, 2, 4, 6])}
    x_train, y_train = torch.rand(8, 3, 28, 28), torch.arange(8) % 4
    # a step in each of the first epochs (gradients summed): a staged strategy (JTT) trains its
    # identification model first and the kept model later; every parameter must learn in some epoch
    for epoch in (1, 2, 3):
        strategy.before_epoch(epoch, model, x_train, y_train)
        loss, logs = strategy.loss(model, batch)
        assert torch.isfinite(loss) and all(torch.isfinite(torch.tensor(v)) for v in logs.values())
        loss.backward()
    for name, p in list(model.named_parameters()) + list(strategy.named_parameters()):
        assert p.grad is not None and torch.isfinite(p.grad).all(), f"{name} got no gradient"
    assert model(batch["x"]).shape == (4, 10)


def test_registries_reject_duplicates_and_list_valid_names():
    with pytest.raises(ValueError):
        register("lazy-cnn")(lambda num_classes=10: None)
    with pytest.raises(UsageError, match="valid: .*lazy-cnn"):
        build_model("vgg")
    with pytest.raises(UsageError, match="valid: .*consistency"):
        get_strategy("magic")


def test_strategy_options_from_run_file(tmp_path):
    p = tmp_path / "run.toml"
    p.write_text('[train]\nstrategy = "consistency"\n[strategy.consistency]\nkl_weight = 3.0\nops = ["hue"]\n')
    cfg = load_config(p)
    assert cfg.strategy_config().kl_weight == 3.0 and cfg.strategy_config().ops == ["hue"]
    p.write_text("[strategy.consistency]\nkl_weight = -1\n")
    with pytest.raises(UsageError, match="strategy.consistency.kl_weight"):
        load_config(p)
    p.write_text("[strategy.nope]\nx = 1\n")
    with pytest.raises(UsageError, match="strategy.nope: unknown strategy"):
        load_config(p)


@pytest.mark.parametrize("op", sorted(COLOR_OPS))
def test_color_ops_keep_shape_and_range(op):
    torch.manual_seed(0)
    x = torch.rand(16, 3, 28, 28)
    y = COLOR_OPS[op](x)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1


def test_permute_and_hue_keep_the_gray_level():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 28, 28) * 0.5 + 0.25  # away from the clamp
    assert torch.allclose(COLOR_OPS["permute"](x).sum(1), x.sum(1), atol=1e-6)
    assert torch.allclose(COLOR_OPS["hue"](x).mean(1), x.mean(1), atol=1e-5)


def test_solid_colors_palette_first():
    pal = torch.eye(3)
    s = solid_colors(5, pal)
    assert s.shape == (5, 3, 28, 28) and torch.equal(s[1, :, 4, 7], torch.tensor([0.0, 1.0, 0.0]))


def test_eval_mode_restores_the_mode_also_on_error():
    from lazyartist_cli.models import eval_mode

    model = torch.nn.Sequential(torch.nn.Dropout(0.5))
    for start in (True, False):
        model.train(start)
        with eval_mode(model) as m:
            assert m is model and not model.training
        assert model.training is start
        with pytest.raises(RuntimeError), eval_mode(model):
            raise RuntimeError("boom")
        assert model.training is start


def test_the_mlp_input_divisor_divides_the_image_as_lffs_code_does():
    from lazyartist_cli.models import build_model, resolve_options

    assert resolve_options("mlp", {}) == {"width": 100, "input_divisor": 1.0}
    torch.manual_seed(0)
    lff_code = build_model("mlp", options={"input_divisor": 255})
    plain = build_model("mlp")
    plain.load_state_dict(lff_code.state_dict())
    x = torch.rand(4, 3, 28, 28)
    assert torch.equal(lff_code(x), plain(x / 255)) and not torch.allclose(lff_code(x), plain(x))
