"""DFA and LC (issue 33): the official formulas on small tensors, their model and schedule, and the shared bias proxy
of the ``val-proxy-group`` rule."""

import json
import shutil

import pytest
import torch
import torch.nn.functional as F

from lazyartist_cli.config import load_config
from lazyartist_cli.errors import ConfigError
from lazyartist_cli.models import build_model
from lazyartist_cli.strategies import StrategyContext, build_strategy, get_strategy
from lazyartist_cli.strategies.lc import sequential_ema
from lazyartist_cli.strategies.lff import gce_loss


def _ctx(model_name, n=16):
    return StrategyContext(lambda: build_model(model_name), n_train=n, labels=torch.arange(n) % 10)


def test_sequential_ema_equals_the_official_per_image_loop():
    gen = torch.Generator().manual_seed(0)
    table, seen = torch.rand(12, generator=gen), torch.rand(12, generator=gen) > 0.5
    cells, values = torch.randint(0, 12, (40,), generator=gen), torch.rand(40, generator=gen)
    want, upd = table.clone(), seen.clone().float()
    for c, v in zip(cells.tolist(), values.tolist()):  # LC's EMA_squre, avg_type 'mv'
        want[c] = 0.9 * want[c] + (1 - 0.9 * upd[c]) * v
        upd[c] = 1
    got, got_seen = table.clone(), seen.clone()
    sequential_ema(got, got_seen, cells, values, 0.9)
    assert torch.allclose(got, want, atol=1e-6) and torch.equal(got_seen, upd.bool())


def test_the_disentangled_mlp_predicts_with_the_intrinsic_head_on_both_encoders():
    torch.manual_seed(0)
    model = build_model("mlp-disentangle", options={"input_divisor": 255})
    x = torch.rand(5, 3, 28, 28)
    z_i, z_b = model.features(x)
    assert z_i.shape == z_b.shape == (5, 16) and (z_i >= 0).all()
    assert torch.allclose(model(x), model.head_i(torch.cat([z_i, z_b], 1)))
    assert torch.allclose(z_i, model.encoder_i(x.flatten(1) / 255))


def test_dfa_holds_its_rate_then_halves_it_as_the_official_step_lr_and_swaps_after_its_step():
    cls = get_strategy("dfa")
    dfa = build_strategy("dfa", cls.Config(swap_after=2), _ctx("mlp-disentangle"))
    assert [dfa.lr_multiplier(s) for s in (0, 19_999, 20_000, 29_999, 30_000, 49_999)] == [1, 1, 0.5, 0.5, 0.25, 0.125]
    torch.manual_seed(0)
    model = build_model("mlp-disentangle")
    batch = {"x": torch.rand(8, 3, 28, 28), "y": torch.arange(8) % 10, "index": torch.arange(8)}
    logs = [dfa.loss(model, batch)[1] for _ in range(4)]  # steps 0..3: the swap from step 3 (step > 2)
    assert ["swap" in entry for entry in logs] == [False, False, False, True] and int(dfa.steps) == 4


def test_dfa_first_step_is_lffs_weighted_ce_plus_the_weighted_gce_of_the_bias_head():
    torch.manual_seed(0)
    model = build_model("mlp-disentangle")
    dfa = build_strategy("dfa", get_strategy("dfa").Config(), _ctx("mlp-disentangle"))
    batch = {"x": torch.rand(8, 3, 28, 28), "y": torch.arange(8) % 10, "index": torch.arange(8)}
    loss, _ = dfa.loss(model, batch)
    z_i, z_b = model.features(batch["x"])
    ce_i = F.cross_entropy(model.head_i(torch.cat([z_i, z_b], 1)), batch["y"], reduction="none")
    ce_b = F.cross_entropy(model.head_b(torch.cat([z_i, z_b], 1)), batch["y"], reduction="none")
    # first visit: the EMAs are the losses; each class's maximum over the training set is its one image here
    w = torch.full_like(ce_i, 0.5)  # every class of the batch has one image: both normalised losses are 1
    want = (ce_i * w).mean() + 10 * gce_loss(model.head_b(torch.cat([z_i, z_b], 1)), batch["y"], 0.7).mean()
    assert torch.allclose(loss, want, atol=1e-5) and torch.allclose(dfa.ema_b[:8], ce_b.detach(), atol=1e-6)


def test_a_model_owned_by_a_strategy_and_a_strategy_that_needs_one_are_refused_with_other_partners():
    with pytest.raises(ConfigError, match="trains model 'mlp-disentangle' or 'lazy-cnn-disentangle' only"):
        load_config(None, {"train.strategy": "dfa", "train.model": "mlp"})
    with pytest.raises(ConfigError, match="is trained by strategy 'dfa' only"):
        load_config(None, {"train.strategy": "erm", "train.model": "mlp-disentangle"})
    load_config(None, {"train.strategy": "dfa", "train.model": "mlp-disentangle"})


def test_lc_corrects_the_logits_by_the_prior_of_each_images_mixed_pseudo_group():
    torch.manual_seed(0)
    lc = build_strategy("lc", get_strategy("lc").Config(ema=0.5), _ctx("mlp"))
    model = build_model("mlp")
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    batch = {"x": torch.rand(6, 3, 28, 28), "y": y, "index": torch.arange(6)}
    loss, logs = lc.loss(model, batch)
    assert torch.isfinite(loss) and 0.0 <= logs["lam"] <= 0.5  # alpha = 0.5 from the start: lam ~ U(0, 0.5)
    a = lc.biased(batch["x"]).argmax(1)
    assert lc.prior_seen[y, a].all() and int(lc.prior_seen.sum()) == len(set(zip(y.tolist(), a.tolist())))
    assert (lc.prior >= 0).all() and (lc.prior <= 1).all() and int(lc.steps) == 1


def test_lcs_biased_model_learns_at_a_tenth_of_the_rate(small_dataset, tmp_path):
    from .conftest import invoke_cli

    runs = tmp_path / "runs"
    shutil.copytree(small_dataset / "datasets", runs / "datasets")
    res = invoke_cli(runs, "train", "--strategy", "lc", "--epochs", "1", "--name", "lc", "-q",
                     "--set", "train.model=mlp", "--set", "train.select=last")
    assert res.exit_code == 0, res.output
    groups = torch.load(runs / "lc" / "last.pt", weights_only=False)["optimizer"]["param_groups"]
    assert [g.get("lr_scale", 1.0) for g in groups] == [1.0, 0.1]
    assert groups[1]["lr"] == pytest.approx(0.1 * groups[0]["lr"])


def test_the_proxy_rule_reads_no_bias_label_changes_no_training_and_scores_the_last_epoch(small_dataset, tmp_path):
    from .conftest import invoke_cli

    runs = tmp_path / "runs"
    shutil.copytree(small_dataset / "datasets", runs / "datasets")
    for name, rule in (("v", "val"), ("p", "val-proxy-group")):
        res = invoke_cli(runs, "train", "--strategy", "erm", "--epochs", "3", "--name", name, "-q",
                         "--set", "train.model=mlp", "--set", f"train.select={rule}")
        assert res.exit_code == 0, res.output
        assert invoke_cli(runs, "eval", name, "-q").exit_code == 0
    hist = {n: [json.loads(line) for line in (runs / n / "history.jsonl").read_text().splitlines()] for n in "vp"}
    # the same training (the proxy draws from its own seed): every logged loss and accuracy equal
    assert [r["train_objective"] for r in hist["v"]] == [r["train_objective"] for r in hist["p"]]
    scores = [r["val_proxy_group_acc"] for r in hist["p"]]
    assert all(0 <= s <= 1 for s in scores) and "val_proxy_group_acc" not in hist["v"][0]
    best = json.loads((runs / "p" / "eval" / "metrics.json").read_text())
    assert best["checkpoint_epoch"] == max(range(3), key=lambda i: (scores[i], hist["p"][i]["val_acc"])) + 1
    proxy = json.loads((runs / "p" / "proxy.json").read_text())
    assert proxy["epochs"] == 5 and 0 < proxy["groups_present"] <= 100
    last = best["last"]  # the final epoch's model, what a paper's code that keeps it reports
    assert last["checkpoint_epoch"] == 3 and set(last["groups"]) >= {"unbiased", "worst_group"}
    ev = json.loads((runs / "v" / "eval" / "metrics.json").read_text())
    assert ev["last"]["test_hard"] == best["last"]["test_hard"]  # the same final model under either rule


def test_the_proxy_network_is_stored_only_when_it_is_not_the_runs_own():
    from lazyartist_cli.pipeline.stored_config import comparable_config, resolved_config
    from lazyartist_cli.pipeline.bias_proxy import proxy_options_from

    own = resolved_config(load_config(None, {"train.model": "mlp", "train.proxy_model": "mlp"}))
    assert "proxy_model" not in own["train"]  # the default: a run stored before the key existed compares equal
    assert comparable_config(own) == comparable_config(resolved_config(load_config(None, {"train.model": "mlp"})))
    dfa = resolved_config(load_config(None, {"train.strategy": "dfa", "train.model": "mlp-disentangle",
                                             "train.proxy_model": "mlp"}))
    assert dfa["train"]["proxy_model"] == "mlp"
    assert proxy_options_from("mlp", {"width": 100, "features": 16, "input_divisor": 255.0}) == {
        "width": 100, "input_divisor": 255.0}
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        load_config(None, {"train.proxy_model": "nope"})


def test_proxy_options_are_stored_only_when_given_and_give_the_other_methods_proxy():
    from lazyartist_cli.pipeline.stored_config import comparable_config, resolved_config

    plain = resolved_config(load_config(None, {"train.model": "mlp"}))
    assert "proxy_options" not in plain["train"]  # a run stored before the key existed compares equal
    assert comparable_config(plain) == comparable_config({**plain, "train": {**plain["train"], "proxy_options": None}})
    deep = resolved_config(load_config(None, {"train.strategy": "denetdm", "train.model": "mlp-deep",
                                              "train.proxy_model": "mlp", "train.proxy_options": {"input_divisor": 255}}))
    assert deep["train"]["proxy_options"] == {"input_divisor": 255}
