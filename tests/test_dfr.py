"""DFR (Deep Feature Reweighting): its L1 logistic regression, the group-balanced last-layer refit, and a run
whose refit was cut off (never trusted, finished by --resume)."""

import json
import shutil

import torch
import torch.nn as nn
import torch.nn.functional as F

from lazyartist_cli.checkpoints import load_checkpoint, save_checkpoint
from lazyartist_cli.strategies import StrategyContext, build_strategy, get_strategy
from lazyartist_cli.strategies.dfr import (
    DFRConfig, balanced_rows, dfr_last_layer, fit_l1_ovr, fold_standardization, missing_group, standardizer,
    stratified_halves,
)

from .conftest import invoke_cli


def test_l1_logistic_regression_meets_its_optimality_conditions():
    """At the optimum of ||w||_1 + C sum softplus(-s (x.w + b)): the intercept's gradient is 0, and the loss gradient
    g_j of every weight is -sign(w_j) where w_j != 0 and within [-1, 1] where w_j = 0 (the L1 subgradient)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(300, 12, generator=gen)
    y = (x[:, :3] @ torch.randn(3, 4, generator=gen) + 0.5 * torch.randn(300, 4, generator=gen)).argmax(1)
    for c in (1.0, 0.05):
        w, b = fit_l1_ovr(x, y, 4, c, 20_000, tol=1e-12)
        w, b = w.double().requires_grad_(True), b.double().requires_grad_(True)
        s = torch.where(F.one_hot(y, 4).bool(), 1.0, -1.0).double()
        (c * F.softplus(-s * (x.double() @ w.T + b)).sum()).backward()
        assert b.grad.abs().max() < 1e-3
        nz = w.detach() != 0
        assert nz.any() and (~nz).any() if c == 0.05 else nz.any()
        assert (w.grad[nz] + torch.sign(w.detach()[nz])).abs().max() < 1e-3
        assert w.grad[~nz].abs().max() <= 1 + 1e-3 if (~nz).any() else True


def test_fitting_problems_in_a_batch_equals_fitting_them_one_by_one():
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(2, 80, 5, generator=gen), torch.randint(0, 3, (2, 80), generator=gen)
    wb, bb = fit_l1_ovr(x, y, 3, torch.tensor([0.5, 2.0]), 3000)
    for i, c in enumerate((0.5, 2.0)):
        w, b = fit_l1_ovr(x[i], y[i], 3, c, 3000)
        assert torch.allclose(w, wb[i], atol=1e-4) and torch.allclose(b, bb[i], atol=1e-4)


def test_the_standardisation_folds_into_the_last_layer_exactly():
    gen = torch.Generator().manual_seed(3)
    f = torch.randn(50, 6, generator=gen) * torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0, 0.0]) + 4.0  # one constant feature
    mean, scale = standardizer(f)
    assert scale[5] == 1 and torch.allclose(scale[:5], f[:, :5].std(0, unbiased=False))
    w, b = torch.randn(3, 6, generator=gen), torch.randn(3, generator=gen)
    weight, bias = fold_standardization(w, b, mean, scale)
    assert torch.allclose(f @ weight.T + bias, ((f - mean) / scale) @ w.T + b, atol=1e-4)


def test_c_is_chosen_by_the_highest_held_out_worst_group_accuracy():
    """A C so small that every weight is 0 predicts one class (worst group 0): the grid's other C must win,
    wherever it stands in the grid."""
    gen = torch.Generator().manual_seed(4)
    f, y, b = _features(3000, gen, 0.1)
    for grid in ([1e-5, 1.0], [1.0, 1e-5]):
        _, _, info = dfr_last_layer(f, y, b, 10, DFRConfig(c_grid=grid, refits=2, iterations=500), seed=0)
        assert info["c"] == 1.0 and info["scores"]["1e-05"] == 0.0 < info["held_out_worst_group"]


def _features(n: int, gen: torch.Generator, conflicting: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Features of a model that learnt both: 10 noisy core dims (the class) and 10 clean spurious dims (the bias,
    equal to the class except on a ``conflicting`` share). Returns (features, labels, bias values)."""
    y = torch.arange(n) % 10
    b = y.clone()
    flip = torch.rand(n, generator=gen) < conflicting
    b[flip] = (y[flip] + torch.randint(1, 10, (int(flip.sum()),), generator=gen)) % 10
    core = F.one_hot(y, 10).float() + 0.3 * torch.randn(n, 10, generator=gen)
    spur = 3 * F.one_hot(b, 10).float() + 0.05 * torch.randn(n, 10, generator=gen)
    return torch.cat([core, spur], 1), y, b


def test_dfr_refits_the_last_layer_onto_the_core_feature():
    gen = torch.Generator().manual_seed(2)
    f_val, y_val, g_val = _features(4000, gen, 0.05)
    f_hard, y_hard, _ = _features(2000, gen, 1.0)  # every image conflicting
    model = nn.Sequential(nn.Identity(), nn.Linear(20, 10))
    with torch.no_grad():  # the biased last layer ERM would learn: read the spurious dims
        model[1].weight.zero_()
        model[1].weight[:, 10:] = torch.eye(10)
        model[1].bias.zero_()
    assert (model(f_hard).argmax(1) == y_hard).float().mean() < 0.2
    dfr = build_strategy("dfr", get_strategy("dfr").Config(refits=5, iterations=2000), StrategyContext(num_classes=10))
    f_train, _, _ = _features(2000, gen, 0.05)
    info = dfr.refit(model, f_train, f_val, y_val, g_val, seed=0)
    hard_acc = float((model(f_hard).argmax(1) == y_hard).float().mean())
    assert hard_acc > 0.8, hard_acc
    assert info["c"] in dfr.cfg.c_grid and 0 <= info["held_out_worst_group"] <= 1
    w = model[1].weight.detach()
    assert w[:, :10].diagonal().mean() > w[:, 10:].diagonal().mean()  # the core dims now carry the class


def test_balanced_draws_and_halves_keep_every_group_and_dfr_names_a_missing_one():
    groups = torch.tensor([0] * 7 + [1] * 3 + [2] * 5)
    rows = balanced_rows(groups, 5, torch.Generator().manual_seed(0))
    assert torch.bincount(groups[rows]).tolist() == [5, 5, 5]
    assert rows[groups[rows] == 0].unique().numel() == 5 and rows[groups[rows] == 1].unique().numel() == 3
    a, b = stratified_halves(groups, torch.Generator().manual_seed(0))
    assert sorted(torch.cat([a, b]).tolist()) == list(range(15))
    assert all(abs(int((groups[a] == g).sum()) - int((groups[b] == g).sum())) <= 1 for g in range(3))
    y = torch.arange(10).repeat(4)
    bias = torch.cat([y[:20], (y[20:] + 1) % 10])  # two aligned and two conflicting images per class
    assert missing_group(y, bias, 10) is None
    bias[-1] = y[-1]  # class 9 keeps one conflicting image
    assert "class 9 has 1 conflicting" in missing_group(y, bias, 10)


def test_a_dfr_run_refits_its_chosen_checkpoint_and_an_unfinished_refit_is_never_trusted(small_dataset, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(small_dataset / "datasets", runs / "datasets")
    res = invoke_cli(runs, "train", "--strategy", "dfr", "--epochs", "1", "--name", "d", "-q",
                     "--set", "strategy.dfr.refits=2", "--set", "strategy.dfr.iterations=300")
    assert res.exit_code == 0, res.output
    best, last = load_checkpoint(runs / "d" / "best.pt"), load_checkpoint(runs / "d" / "last.pt")
    refit = {k: v for k, v in json.loads((runs / "d" / "refit.json").read_text()).items() if k != "schema_version"}
    assert best["best"]["refit"] == refit and refit["c"] in get_strategy("dfr").Config().c_grid
    assert torch.equal(best["model"]["conv.weight"], last["model"]["conv.weight"])  # only the last layer changes
    assert not torch.equal(best["model"]["fc2.weight"], last["model"]["fc2.weight"])
    assert invoke_cli(runs, "eval", "d", "-q").exit_code == 0
    # a command killed before the refit: best.pt holds the ERM model and no refit.json exists
    save_checkpoint(runs / "d" / "best.pt", **{**{k: v for k, v in last.items() if k != "format"}})
    (runs / "d" / "refit.json").unlink()
    res = invoke_cli(runs, "eval", "d", "-q")
    assert res.exit_code == 1 and "--resume" in res.output and "Traceback" not in res.output
    res = invoke_cli(runs, "train", "--strategy", "dfr", "--epochs", "1", "--name", "d", "-q", "--resume",
                     "--set", "strategy.dfr.refits=2", "--set", "strategy.dfr.iterations=300")
    assert res.exit_code == 0, res.output
    again = load_checkpoint(runs / "d" / "best.pt")
    assert torch.equal(again["model"]["fc2.weight"], best["model"]["fc2.weight"])  # the same refit, reproduced
    assert invoke_cli(runs, "eval", "d", "-q").exit_code == 0


def test_pooled_scoring_ranks_c_on_two_groups_and_needs_only_two_conflicting_images():
    from lazyartist_cli.strategies.dfr import missing_group, scored_groups

    y = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2])
    bias = torch.tensor([0, 0, 1, 1, 1, 1, 2, 0])  # two conflicting images, in classes 0 and 2
    assert torch.equal(scored_groups(y, bias, "pooled"), torch.tensor([0, 0, 1, 0, 0, 0, 0, 1]))
    assert missing_group(y, bias, 3, "pooled") is None
    assert "class 0 has 1 conflicting" in missing_group(y, bias, 3, "worst-group")
    assert "val has 7 and 1" in missing_group(y, torch.tensor([0, 0, 0, 1, 1, 1, 2, 0]), 3, "pooled")
