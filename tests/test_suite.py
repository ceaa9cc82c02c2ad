"""The shortcut suite: every protocol's images, the field's standard metrics, and the
sampling of the strategies that change what an epoch sees (group-balanced GroupDRO, JTT)."""

import math

import pytest
import torch

from lazyartist_cli.data.build import build_splits
from lazyartist_cli.data.protocols import PROTOCOLS, ProtocolOptions, get_protocol
from lazyartist_cli.data.protocols.decoy import corner_mask
from lazyartist_cli.data.verify import split_stats
from lazyartist_cli.errors import UsageError
from lazyartist_cli.metrics import group_accuracies, shortcut_metrics
from lazyartist_cli.metrics import worst_group_accuracy
from lazyartist_cli.strategies import StrategyContext, build_strategy, get_strategy
from lazyartist_cli.strategies.base import KNOWLEDGE

PALETTE = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255), (255, 128, 0),
           (128, 0, 255), (255, 128, 192), (128, 64, 0)]


def _digits(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random 'digits': a bright bar in the middle of each image, labels 0..9 in turn."""
    d = torch.zeros(n, 28, 28, dtype=torch.uint8)
    d[:, 8:20, 12:16] = torch.randint(128, 256, (n, 12, 4), generator=gen, dtype=torch.int64).to(torch.uint8)
    return d, torch.arange(n) % 10


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_every_protocol_builds_checked_splits_whose_hard_twins_differ_only_in_the_bias(protocol):
    gen = torch.Generator().manual_seed(0)
    tr, ytr = _digits(2000, gen)
    te, yte = _digits(500, gen)
    splits = build_splits(tr, ytr, te, yte, PALETTE, 0.9, 1000, 500, 500, seed=1, protocol=protocol, color_std=0.01)
    for name, target in (("train", 0.9), ("val", 0.9), ("test_easy", 0.9), ("test_hard", 0.0)):
        stats = split_stats(splits[name], target, exact=True)
        assert stats["checks"]["aligned_fraction"] and stats["checks"]["per_class_aligned"], (name, stats["checks"])
    easy, hard = splits["test_easy"], splits["test_hard"]
    assert torch.equal(easy["digits"], hard["digits"])
    # twins: where test_easy's (conflicting) bias value happens to equal test_hard's, the two images are
    # identical (same digit, same nuisance); where the bias values differ, so do the images
    same = easy["colors"] == hard["colors"]
    assert 0 < int(same.sum()) < 100
    differs = (easy["images"] != hard["images"]).flatten(1).any(1)
    assert torch.equal(differs, ~same)


def test_decoy_draws_the_class_shade_in_one_corner_and_nothing_else():
    proto = get_protocol("decoy")
    digits = torch.zeros(4, 28, 28, dtype=torch.uint8)
    bias = torch.tensor([0, 3, 9, 5])
    corner = torch.tensor([0, 1, 2, 3])
    img = proto.compose(digits, bias, torch.zeros(10, 3), {"corner": corner}, ProtocolOptions())
    assert img.shape == (4, 3, 28, 28) and torch.equal(img[:, 0], img[:, 1]) and torch.equal(img[:, 1], img[:, 2])
    mask = corner_mask(corner, 28)
    assert mask.sum().item() == 4 * 16
    for i, b in enumerate(bias.tolist()):
        assert set(img[i, 0][mask[i]].tolist()) == {255 - 25 * b}
        assert img[i, 0][~mask[i]].sum().item() == 0
    assert mask[0, 0, 0] and mask[1, 0, 27] and mask[2, 27, 0] and mask[3, 27, 27]
    big = proto.compose(digits, bias, torch.zeros(10, 3), {"corner": corner}, ProtocolOptions(patch_size=8))
    assert (big[:, 0] > 0).flatten(1).sum(1).tolist() == [64] * 4  # 8x8 (every shade, 30 for class 9 too, is > 0)
    assert big[3, 0, 20, 20] == 255 - 25 * 5 and big[3, 0, 19, 19] == 0  # bottom-right: rows and columns 20..27


def test_patch_size_counts_only_off_its_default_on_decoy():
    from lazyartist_cli.config import validate_config
    from lazyartist_cli.pipeline.stored_config import comparable_config, resolved_config

    default = validate_config({"data": {"protocol": "decoy"}})
    four = validate_config({"data": {"protocol": "decoy", "patch_size": 4}})
    eight = validate_config({"data": {"protocol": "decoy", "patch_size": 8}})
    fg8 = validate_config({"data": {"patch_size": 8}})
    assert "patch_size" not in resolved_config(default)["data"] and resolved_config(eight)["data"]["patch_size"] == 8
    assert comparable_config(resolved_config(four)) == comparable_config(resolved_config(default))
    assert comparable_config(resolved_config(eight)) != comparable_config(resolved_config(default))
    assert "patch_size" not in resolved_config(fg8)["data"]  # a knob only decoy reads
    fp = [c.data.build_fingerprint(0) for c in (default, four, eight)]
    assert fp[0] == fp[1] != fp[2]



def test_lff_colour_noise_has_the_stated_std_and_multiplies_the_stroke():
    proto = get_protocol("lff")
    gen = torch.Generator().manual_seed(0)
    nuis = proto.nuisance(20000, gen, 28, ProtocolOptions(color_std=0.05))
    assert abs(nuis["color_noise"].std().item() - 0.05) < 0.002
    digits = torch.full((2, 28, 28), 255, dtype=torch.uint8)
    digits[:, :, :14] = 0
    palette = torch.tensor(PALETTE, dtype=torch.float32) / 255
    img = proto.compose(digits, torch.tensor([0, 2]), palette, {"color_noise": torch.zeros(2, 3)}, ProtocolOptions())
    assert img[:, :, :, :14].sum() == 0  # black background
    assert img[0, :, 0, 20].tolist() == [255, 0, 0] and img[1, :, 0, 20].tolist() == [0, 0, 255]


def test_texture_is_gray_and_its_grating_orientation_follows_the_bias():
    proto = get_protocol("texture")
    gen = torch.Generator().manual_seed(0)
    digits = torch.zeros(2, 28, 28, dtype=torch.uint8)
    nuis = proto.nuisance(2, gen, 28, ProtocolOptions())
    nuis["noise"].zero_()
    nuis["freq"] = torch.tensor([3.0, 3.0])
    img = proto.compose(digits, torch.tensor([0, 5]), torch.zeros(10, 3), nuis, ProtocolOptions()).float()
    assert torch.equal(img[:, 0], img[:, 2])
    # 0 degrees: the grating varies along x only (columns constant); 90 degrees: along y only
    assert img[0, 0].std(0).max() < 1e-6 and img[0, 0].std(1).max() > 10
    assert img[1, 0].std(1).max() < 1e-6 and img[1, 0].std(0).max() > 10


def test_colour_analyses_say_not_applicable_on_a_protocol_without_colour():
    from lazyartist_cli.data.views import colorblind_view
    from lazyartist_cli.interpret.counterfactual import every_colour

    x = torch.rand(2, 3, 28, 28)
    d = torch.zeros(2, 28, 28, dtype=torch.uint8)
    for fn in (every_colour, colorblind_view):
        with pytest.raises(UsageError, match="decoy"):
            fn(x, d, torch.tensor([0, 1]), torch.rand(10, 3), "decoy")


def test_shortcut_metrics_by_hand():
    # two classes, two bias values: easy holds the aligned groups, hard the conflicting ones
    y_e, b_e = torch.tensor([0, 0, 1, 1, 0]), torch.tensor([0, 0, 1, 1, 1])
    p_e = torch.tensor([0, 1, 1, 1, 0])  # aligned (0,0): 1/2, aligned (1,1): 2/2; the conflicting row is ignored
    y_h, b_h = torch.tensor([0, 0, 0, 1]), torch.tensor([1, 1, 1, 0])
    p_h = torch.tensor([0, 1, 1, 1])  # (0,1): 1/3, (1,0): 1/1
    m = shortcut_metrics((p_e, y_e, b_e), (p_h, y_h, b_h), n_classes=2)
    assert m["aligned"] == pytest.approx(3 / 4)
    assert m["bias_conflicting"] == pytest.approx(2 / 4)
    assert m["unbiased"] == pytest.approx((0.5 + 1.0 + 1 / 3 + 1.0) / 4)
    assert m["worst_group"] == pytest.approx(1 / 3) and m["groups_scored"] == 4
    g = group_accuracies(p_h, y_h, b_h, 2)
    assert math.isnan(g[0, 0].item()) and g[0, 1].item() == pytest.approx(1 / 3)
    assert worst_group_accuracy(p_h, y_h, y_h * 2 + b_h, 4) == pytest.approx(1 / 3)


def _ctx(labels, colors, builder=None):
    return StrategyContext(builder, n_train=labels.shape[0], labels=labels, colors=colors)


def test_group_dro_balanced_sampling_draws_every_group_equally_often():
    labels = torch.cat([torch.zeros(900), torch.zeros(100), torch.ones(900), torch.ones(100)]).long()
    colors = torch.cat([torch.zeros(900), torch.ones(100), torch.ones(900), torch.zeros(100)]).long()
    cls = get_strategy("group-dro")
    dro = build_strategy("group-dro", cls.Config(), _ctx(labels, colors))
    rows = dro.epoch_indices(1, torch.Generator().manual_seed(0))
    assert rows.shape == (2000,)
    counts = torch.bincount(labels[rows] * 10 + colors[rows], minlength=20)[[0, 1, 10, 11]].float()
    assert (counts / 2000 - 0.25).abs().max() < 0.04  # 4 groups of very different sizes, drawn ~equally
    assert build_strategy("group-dro", cls.Config(sampling="uniform"), _ctx(labels, colors)).epoch_indices(
        1, torch.Generator()) is None
    assert cls.default_selection() == "val-worst-group"


def test_jtt_trains_its_identifier_first_then_upsamples_its_errors():
    from lazyartist_cli.models import build_model

    torch.manual_seed(0)
    labels = torch.arange(20) % 10
    cfg = get_strategy("jtt").Config(identify_epochs=1, upweight=5)
    jtt = build_strategy("jtt", cfg, _ctx(labels, labels, lambda: build_model("lazy-cnn")))
    model = build_model("lazy-cnn")
    x = torch.rand(20, 3, 28, 28)
    assert jtt.epoch_indices(1, torch.Generator()) is None and not jtt.selectable(1)
    jtt.before_epoch(1, model, x, labels)
    assert not bool(jtt.identified)
    jtt.before_epoch(2, model, x, labels)  # the identifier's errors on the whole training set
    with torch.no_grad():
        jtt.identifier.eval()
        wrong = jtt.identifier(x).argmax(1) != labels
    assert torch.equal(jtt.errors, wrong) and jtt.selectable(2)
    rows = jtt.epoch_indices(2, torch.Generator().manual_seed(0))
    counts = torch.bincount(rows, minlength=20)
    assert torch.equal(counts, torch.where(wrong, 5, 1))  # each error 5 times, the rest once
    assert get_strategy("jtt").check_epochs(cfg, 1) and get_strategy("jtt").check_epochs(cfg, 2) is None
    assert get_strategy("jtt").knowledge() == "nothing"
    # its frozen identifier is the bias proxy of its checkpoint rule: groups (label, the identifier's prediction)
    assert get_strategy("jtt").default_selection(cfg) == "val-pseudo-group" and get_strategy("jtt").bias_proxy
    assert torch.equal(jtt.pseudo_groups(x, labels, 7), labels * 10 + jtt.identifier(x).argmax(1))


def test_every_strategy_names_one_exact_knowledge_class():
    from lazyartist_cli.strategies import STRATEGIES

    for name, cls in STRATEGIES.items():
        assert cls.knowledge() in KNOWLEDGE, name
    cons = get_strategy("consistency")
    assert cons.knowledge(cons.Config(ops=["stroke"])) == "the generator"
    assert cons.knowledge(cons.Config(ops=["hue", "permute"])) == "the shortcut's type"
    assert cons.default_selection(cons.Config(ops=["hue"])) == "val-recolored"


def test_a_stronger_checkpoint_rule_raises_what_a_run_knows():
    from lazyartist_cli.strategies.base import effective_knowledge

    assert effective_knowledge("nothing", "val") == "nothing"
    assert effective_knowledge("nothing", "val-worst-group") == "group labels on a held-out set"
    assert effective_knowledge("nothing", "val-recolored") == "the shortcut's type"
    assert effective_knowledge("the generator", "val-recolored") == "the generator"
    assert effective_knowledge("group labels on all training data", "val-worst-group") == "group labels on all training data"
    cons = get_strategy("consistency")
    assert cons.knowledge(cons.Config(ops=["stroke"]), "background") == "the shortcut's type"
    assert cons.knowledge(cons.Config(ops=["stroke"]), "lff") == "the generator"


def test_group_dro_gives_no_weight_to_a_group_without_training_images():
    labels = torch.tensor([0, 0, 1, 1])
    colors = torch.tensor([0, 1, 1, 1])  # group (1, 0) is empty
    cls = get_strategy("group-dro")
    dro = build_strategy("group-dro", cls.Config(adjustment=1.0), StrategyContext(n_train=4, num_classes=2, labels=labels,
                                                                              colors=colors))
    assert dro.q.tolist() == pytest.approx([1 / 3, 1 / 3, 0.0, 1 / 3])
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 28 * 28, 2))
    batch = {"x": torch.rand(4, 3, 28, 28), "y": labels, "index": torch.arange(4)}
    for _ in range(3):
        dro.loss(model, batch)
    assert dro.q[2].item() == 0.0 and dro.q.sum().item() == pytest.approx(1.0)


def test_sweep_only_keeps_the_listed_values_and_names_a_bad_one(tmp_path):
    from lazyartist_cli.errors import ConfigError
    from lazyartist_cli.pipeline.sweep_file import load_sweep

    f = tmp_path / "s.toml"
    f.write_text('name = "s"\n[axes]\n"data.protocol" = ["foreground", "decoy", "texture"]\nseed = [0, 1]\n')
    sw = load_sweep(f, only={"data.protocol": ["decoy", "texture"], "seed": ["1"]})
    assert [p.values for p in sw.points] == [{"data.protocol": "decoy", "seed": 1}, {"data.protocol": "texture", "seed": 1}]
    with pytest.raises(ConfigError, match="'lff' is not one of its values"):
        load_sweep(f, only={"data.protocol": ["lff"]})
    with pytest.raises(ConfigError, match="not an axis"):
        load_sweep(f, only={"train.strategy": ["erm"]})


def test_a_study_of_a_protocol_without_colour_leaves_out_the_colour_analyses_and_the_oracle():
    from lazyartist_cli.config import validate_config
    from lazyartist_cli.pipeline.plan import analysis_plan, study_runs

    colour = validate_config({})
    decoy = validate_config({"data": {"protocol": "decoy"}})
    assert {s.analysis.name for s in analysis_plan(colour)} >= {"probe", "sae"}
    names = {s.analysis.name for s in analysis_plan(decoy)}
    assert "probe" not in names and "sae" not in names and {"eval", "counterfactual", "gradcam", "attack"} <= names
    assert any(r.role == "oracle" for r in study_runs(colour)) and not any(r.role == "oracle" for r in study_runs(decoy))


def test_color_std_counts_only_where_lff_reads_it():
    from lazyartist_cli.config import validate_config
    from lazyartist_cli.pipeline.stored_config import comparable_config, resolved_config

    fg = resolved_config(validate_config({}))
    assert "color_std" not in fg["data"]
    old = {**fg, "data": {**fg["data"], "color_std": 0.005}}  # stored while every protocol kept it
    assert comparable_config(old) == comparable_config(fg)
    lff = resolved_config(validate_config({"data": {"protocol": "lff", "color_std": 0.02}}))
    assert lff["data"]["color_std"] == 0.02


def test_a_two_stage_strategy_must_name_its_parts():
    import pytest

    from lazyartist_cli.strategies.two_stage import TwoStageStrategy

    with pytest.raises(TypeError, match="helper_role is not set; helper_name 'helper' is the property's name"):
        type("Bad", (TwoStageStrategy,), {"helper_name": "helper", "frozen_name": "f", "stage_option": "x"})


def test_a_jtt_run_is_chosen_by_its_identifiers_pseudo_groups(small_dataset, tmp_path):
    import json

    from .conftest import train_two_stage

    runs, rows, _ = train_two_stage(small_dataset, tmp_path, "jtt")
    assert "log_ce_identifier" in rows[0] and "log_error_set" in rows[2]
    # the chosen epoch is the second-stage epoch with the best pseudo-group score (ties: the higher easy val)
    best = max(rows[1:], key=lambda r: (r["val_pseudo_group_acc"], r["val_acc"]))
    assert json.loads((runs / "r" / "eval" / "metrics.json").read_text())["checkpoint_epoch"] == best["epoch"]
    # a replay of the stored history (scripts/epoch_budget.py) keeps the same epoch, never the identifier's epoch 1
    from lazyartist_cli.pipeline.selection import replay_choice
    from lazyartist_cli.strategies import get_strategy

    jtt = get_strategy("jtt")
    assert replay_choice(rows, "val-pseudo-group", lambda e: jtt.selectable_epoch(jtt.Config(), e))["epoch"] == best["epoch"]
    assert replay_choice(rows[:1], "val-pseudo-group", lambda e: jtt.selectable_epoch(jtt.Config(), e)) is None
