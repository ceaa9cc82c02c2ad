"""``ula``: a bias proxy trained first, then the kept model on logits adjusted by the proxy's log-probabilities."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lazyartist_cli.strategies import StrategyContext, build_strategy, get_strategy


class _Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x.flatten(1))


def _ula(n=12, **opts):
    torch.manual_seed(0)
    cls = get_strategy("ula")
    return build_strategy("ula", cls.Config(**opts), StrategyContext(_Linear, n_train=n, num_classes=3))


def test_the_proxy_trains_alone_first_and_scores_the_training_split_once():
    ula = _ula(proxy_epochs=2, temperature=2.0)
    model = _Linear()
    x, y = torch.randn(12, 4), torch.arange(12) % 3
    assert not ula.selectable(2) and ula.selectable(3)
    loss, logs = ula.loss(model, {"x": x, "y": y, "index": torch.arange(12)})
    loss.backward()
    assert "ce_proxy" in logs and model.fc.weight.grad is None and ula.proxy.fc.weight.grad is not None
    ula.before_epoch(2, model, x, y)
    assert not bool(ula.scored)
    ula.before_epoch(3, model, x, y)
    with torch.no_grad():
        p = F.softmax(ula.proxy(x) / 2.0, dim=1)
    # uLA's table, written with loops: M[j, c] = mean_i p(j | x_i) [y_i = c]; each image gets log M[b_i] / sum_c M[b_i, c]
    m = torch.zeros(3, 3)
    for i in range(12):
        for j in range(3):
            m[j, y[i]] += p[i, j] / 12
    want = torch.stack([(m[int(p[i].argmax())] / m[int(p[i].argmax())].sum()).log() for i in range(12)])
    assert bool(ula.scored) and torch.allclose(ula.log_prior, want, atol=1e-6)
    old = ula.log_prior.clone()
    with torch.no_grad():
        ula.proxy.fc.weight.add_(1.0)
    ula.before_epoch(4, model, x, y)  # scored once: the frozen prior does not move
    assert torch.equal(ula.log_prior, old)


def test_pseudo_groups_pair_the_label_with_the_proxys_prediction():
    ula = _ula(proxy_epochs=1)
    x, y = torch.randn(12, 4), torch.arange(12) % 3
    with torch.no_grad():
        pred = ula.proxy(x).argmax(1)
    assert torch.equal(ula.pseudo_groups(x, y, 5), y * 3 + pred)
    ula.scored.fill_(True)  # frozen: the same split is scored once, its groups reused
    first = ula.pseudo_groups(x, y, 5)
    with torch.no_grad():
        ula.proxy.fc.weight.add_(1.0)
    assert ula.pseudo_groups(x, y, 5) is first


def test_the_kept_model_minimises_cross_entropy_of_its_logits_plus_eta_times_the_prior():
    ula = _ula(proxy_epochs=1, eta=0.5)
    model = _Linear()
    x, y = torch.randn(12, 4), torch.arange(12) % 3
    ula.before_epoch(2, model, x, y)
    idx = torch.tensor([5, 1, 7])
    loss, logs = ula.loss(model, {"x": x[idx], "y": y[idx], "index": idx})
    want = F.cross_entropy(model(x[idx]) + 0.5 * ula.log_prior[idx], y[idx])
    assert torch.allclose(loss, want) and "ce_adjusted" in logs
    loss.backward()
    assert ula.proxy.fc.weight.grad is None and model.fc.weight.grad is not None  # the proxy is frozen


def test_a_confident_right_prior_leaves_little_loss_and_a_wrong_one_a_large_loss():
    # the point of the adjustment: images the shortcut explains give little gradient, its counter-examples a lot
    ula = _ula(n=2, proxy_epochs=1)
    ula.log_prior.copy_(torch.log_softmax(torch.tensor([[8.0, 0.0, 0.0], [8.0, 0.0, 0.0]]), 1))
    ula.scored.fill_(True)
    model = _Linear()
    nn.init.zeros_(model.fc.weight), nn.init.zeros_(model.fc.bias)
    x = torch.randn(2, 4)
    right, _ = ula.loss(model, {"x": x[:1], "y": torch.tensor([0]), "index": torch.tensor([0])})
    wrong, _ = ula.loss(model, {"x": x[1:], "y": torch.tensor([1]), "index": torch.tensor([1])})
    assert right.item() < 0.01 and wrong.item() > 7.0


def test_options_epochs_and_knowledge():
    cls = get_strategy("ula")
    cfg = cls.Config(proxy_epochs=3)
    assert cls.check_epochs(cfg, 3) and cls.check_epochs(cfg, 4) is None
    assert cls.knowledge() == "nothing" and cls.default_selection() == "val-pseudo-group" and cls.bias_proxy


def test_a_ula_run_selects_by_its_pseudo_groups_and_the_rule_needs_a_proxy(small_dataset, tmp_path):
    from .conftest import invoke_cli, train_two_stage

    runs, rows, _ = train_two_stage(small_dataset, tmp_path, "ula")
    assert "log_ce_proxy" in rows[0] and "log_ce_adjusted" in rows[2]
    res = invoke_cli(runs, "train", "--strategy", "erm", "--epochs", "1", "--name", "e", "-q",
                     "--set", "train.select=val-pseudo-group")
    assert res.exit_code == 2 and "needs a strategy with a bias proxy (denetdm, jtt, ula)" in res.output and "Traceback" not in res.output
    assert not (runs / "e").exists()


def test_a_resumed_ula_keeps_its_proxy_and_prior():
    ula = _ula(proxy_epochs=1)
    model = _Linear()
    x, y = torch.randn(12, 4), torch.arange(12) % 3
    ula.before_epoch(2, model, x, y)
    again = _ula(proxy_epochs=1)
    torch.manual_seed(5)
    again.proxy.fc.reset_parameters()
    again.load_state_dict(ula.state_dict())
    assert bool(again.scored) and torch.equal(again.log_prior, ula.log_prior)
    assert torch.equal(again.proxy.fc.weight, ula.proxy.fc.weight)
    again.before_epoch(3, model, x, y)  # already scored: unchanged
    assert torch.equal(again.log_prior, ula.log_prior)


def test_the_pseudo_group_score_is_the_mean_accuracy_over_the_non_empty_groups():
    from lazyartist_cli.metrics import balanced_group_accuracy

    y = torch.tensor([0, 0, 0, 1, 1, 2])
    b = torch.tensor([0, 0, 1, 1, 1, 0])
    pred = torch.tensor([0, 1, 0, 1, 0, 2])
    groups = y * 3 + b  # (0,0): 1/2, (0,1): 1/1, (1,1): 1/2, (2,0): 1/1; the other five groups are empty
    assert balanced_group_accuracy(pred, y, groups, 9) == pytest.approx((0.5 + 1 + 0.5 + 1) / 4)
