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
    assert m["explained_variance"] > 0.5 and 0 <= m["dead_fraction"] <= 1


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
