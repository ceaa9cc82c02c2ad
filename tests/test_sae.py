"""Sparse autoencoders: the loss falls, TopK keeps exactly k, factor 1 reproduces
the logits, save/load gives identical outputs, feature labels by purity."""

import pytest
import torch

from lazyartist_cli.models import build_model
from lazyartist_cli.pipeline.sae import cache_activations, load_sae, penultimate_layer
from lazyartist_cli.runs import torch_save_atomic
from lazyartist_cli.sae.analysis import label_feature, purity, replace_layer_output, sae_metrics
from lazyartist_cli.sae.model import SparseAutoencoder, train_sae


def toy_acts(n=512, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(40, d, generator=g)
    codes = (torch.rand(n, 40, generator=g) < 0.1).float() * torch.rand(n, 40, generator=g)
    return codes @ basis


@pytest.mark.parametrize("kind", ["topk", "l1"])
def test_training_loss_falls(kind):
    torch.manual_seed(0)
    acts = toy_acts()
    sae = SparseAutoencoder(16, expansion=4, kind=kind, k=4, l1=1e-3)
    losses = train_sae(sae, acts, epochs=15, batch_size=64, lr=3e-3, seed=0)
    assert losses[-1] < 0.5 * losses[0]
    m = sae_metrics(sae, acts)
    # (was `0 <= dead_fraction <= 1`, true of any fraction; the exact count is in test_mutations.py)
    assert m["explained_variance"] > 0.5 and m["dead_fraction"] < 1
    if kind == "topk":
        assert m["l0"] <= 4  # at most k latents fire


def test_topk_keeps_exactly_k():
    torch.manual_seed(0)
    sae = SparseAutoencoder(16, expansion=8, kind="topk", k=5)
    z = sae.encode(toy_acts(64) + 5.0)  # shifted so that every pre-activation is positive enough
    assert ((z > 0).sum(1) <= 5).all() and ((z != 0).sum(1) == 5).all()


def test_factor_one_reproduces_the_logits_exactly():
    torch.manual_seed(0)
    model = build_model("lazy-cnn").eval()
    layer = penultimate_layer(model)
    assert layer == "act2"
    x = torch.rand(8, 3, 28, 28)
    sae = SparseAutoencoder(64, expansion=2, kind="topk", k=4)
    with torch.no_grad():
        base = model(x)
        module = dict(model.named_modules())[layer]
        with replace_layer_output(model, module, sae, {3: 1.0, 7: 1.0}):
            same = model(x)
        with replace_layer_output(model, module, sae, {int(sae.encode(cache_activations(model, layer, x)).sum(0).argmax()): 0.0}):
            ablated = model(x)
    assert torch.equal(base, same)
    assert not torch.equal(base, ablated)
    assert len(module._forward_hooks) == 0


def test_save_load_identical_outputs(tmp_path):
    torch.manual_seed(0)
    sae = SparseAutoencoder(16, expansion=4, kind="l1", l1=1e-2)
    train_sae(sae, toy_acts(), epochs=2, batch_size=64, lr=1e-3, seed=0)
    torch_save_atomic({"config": sae.config(), "state_dict": sae.state_dict()}, tmp_path / "sae.pt")
    loaded, _ = load_sae(tmp_path / "sae.pt")
    x = toy_acts(32, seed=1)
    assert torch.equal(sae(x)[0], loaded(x)[0])


def test_purity_and_labels():
    assert purity(torch.tensor([3, 3, 3, 1])) == (0.75, 3)
    assert label_feature(0.9, 0.2) == "colour"
    assert label_feature(0.1, 0.7) == "shape"
    assert label_feature(0.8, 0.8) == "polysemantic"
    assert label_feature(0.3, 0.3) == "unclear"


def test_auxiliary_loss_touches_only_dead_latents():
    """The AuxK term adds gradient to the encoder rows of dead latents only, and is absent when none is dead."""
    x = toy_acts(64)

    def encoder_grad(aux_coef, dead):
        torch.manual_seed(0)
        sae = SparseAutoencoder(16, expansion=4, kind="topk", k=2, aux_coef=aux_coef)
        loss, logs, _ = sae.loss(x, dead)
        loss.backward()
        return sae.encoder.weight.grad.clone(), logs

    dead = torch.zeros(64, dtype=torch.bool)
    _, logs = encoder_grad(1.0, dead)
    assert "aux" not in logs  # nothing dead: no auxiliary term
    dead[10:20] = True
    g0, _ = encoder_grad(0.0, dead)
    g1, logs = encoder_grad(1.0, dead)
    assert logs["aux"] > 0
    changed = (g1 - g0).abs().sum(1) > 1e-9
    assert changed[10:20].any() and not changed[~dead].any()
    sae = SparseAutoencoder(16, expansion=4, kind="topk", k=2)
    assert sae.config()["k_aux"] == 8 and sae.config()["aux_coef"] == pytest.approx(1 / 32)


def test_sweep_chooses_the_sparsest_point_that_meets_both_targets():
    from lazyartist_cli.config import load_config
    from lazyartist_cli.pipeline.sae import sweep_saes

    acts = toy_acts(n=1024, d=16)
    s = load_config(None, {"sae.sweep_expansions": [2, 4], "sae.sweep_k": [2, 8], "sae.epochs": 4, "sae.ev_target": 0.5,
                           "sae.dead_target": 1.0, "sae.batch_size": 64}).sae
    rows, chosen, sae = sweep_saes(acts, acts, s, seed=0)
    assert [(r["expansion"], r["k"]) for r in rows] == [(2, 2), (2, 8), (4, 2), (4, 8)]
    ok = [r for r in rows if r["meets"]]
    assert ok and chosen == min(ok, key=lambda r: (r["k"], r["latents"]))
    assert sae.k == chosen["k"] and sae.m == chosen["latents"]
    s2 = s.model_copy(update={"ev_target": 1.0})  # unreachable: the best explained variance is kept
    rows, chosen, _ = sweep_saes(acts, acts, s2, seed=0)
    assert chosen["explained_variance"] == max(r["explained_variance"] for r in rows)


def test_sae_size_below_the_layer_width_is_a_config_error():
    from lazyartist_cli.config import load_config
    from lazyartist_cli.errors import ConfigError

    with pytest.raises(ConfigError, match="below the layer width"):
        load_config(None, {"sae.sweep_expansions": [0, 4]})
    with pytest.raises(ConfigError, match="sae.expansion"):
        load_config(None, {"sae.expansion": 0})


def test_metric_intervals_bracket_the_estimates():
    from lazyartist_cli.sae.analysis import sae_metric_cis

    torch.manual_seed(0)
    acts = toy_acts(n=1500)
    sae = SparseAutoencoder(16, expansion=4, kind="topk", k=4)
    train_sae(sae, acts, epochs=3, batch_size=64, lr=3e-3, seed=0)
    m, ci = sae_metrics(sae.eval(), acts), sae_metric_cis(sae, acts)
    lo, hi = ci["explained_variance"]
    assert lo <= m["explained_variance"] <= hi and hi - lo < 0.1
    assert ci["l0"] == pytest.approx([4.0, 4.0])  # TopK: exactly k active latents on every image
    assert "dead_fraction" not in ci


def test_a_one_sample_last_batch_does_not_blow_up_the_loss():
    torch.manual_seed(0)
    acts = toy_acts(n=129)  # batches of 128, then one sample
    sae = SparseAutoencoder(16, expansion=4, kind="topk", k=4, aux_coef=1.0)
    losses = train_sae(sae, acts, epochs=2, batch_size=128, lr=1e-3, seed=0, dead_after=1)
    assert all(l < 10 for l in losses), losses


def test_metric_intervals_of_an_all_ones_resample_reproduce_the_estimate():
    from lazyartist_cli.sae.analysis import sae_metric_cis

    torch.manual_seed(0)
    acts = toy_acts(n=300)
    sae = SparseAutoencoder(16, expansion=4, kind="topk", k=4).eval()
    m = sae_metrics(sae, acts)
    # with one resample that draws every image once, the "interval" collapses to the estimate
    import lazyartist_cli.sae.analysis as analysis

    real = torch.randint
    try:
        analysis.torch.randint = lambda low, high, size, generator=None: torch.arange(high).repeat(size[0], 1)
        ci = sae_metric_cis(sae, acts, n_boot=3)
    finally:
        analysis.torch.randint = real
    assert ci["explained_variance"] == pytest.approx([m["explained_variance"]] * 2, abs=1e-5)
    assert ci["l0"] == pytest.approx([m["l0"]] * 2, abs=1e-5)
