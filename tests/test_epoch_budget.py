"""scripts/epoch_budget.py replays each run's own checkpoint rule over its stored history as training chose
(the rule's score, a tie to the higher easy val, a full tie to the earlier epoch, only the epochs the strategy lets
be chosen), and refuses a run whose choice it cannot replay rather than guessing."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from lazyartist_cli.pipeline.selection import replay_choice

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("epoch_budget", ROOT / "scripts" / "epoch_budget.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _history():
    #        epoch, val, recoloured, worst group, pseudo group
    table = [(1, 0.90, 0.50, 0.20, 0.30),
             (2, 0.95, 0.40, 0.30, 0.20),
             (3, 0.93, 0.60, 0.30, 0.20),
             (4, 0.95, 0.60, 0.10, 0.30)]
    return [{"epoch": e, "val_acc": v, "val_recolored_acc": rc, "val_worst_group_acc": wg, "val_pseudo_group_acc": pg,
             "hard_acc_monitor": 0.1 * e} for e, v, rc, wg, pg in table]


def test_replay_reads_each_rules_own_score_and_breaks_ties_as_training_does():
    h = _history()
    chosen = {rule: replay_choice(h, rule)["epoch"]
              for rule in ("val", "val-recolored", "val-worst-group", "val-pseudo-group", "last")}
    # val: 0.95 at epochs 2 and 4, a full tie: the earlier. val-recolored: 0.60 at 3 and 4, the higher val (4).
    # val-worst-group: 0.30 at 2 and 3, the higher val (2), not the recoloured score's epoch 3 (what the script
    # read for every rule but val). val-pseudo-group: 0.30 at 1 and 4, the higher val (4). last: the final epoch.
    assert chosen == {"val": 2, "val-recolored": 4, "val-worst-group": 2, "val-pseudo-group": 4, "last": 4}
    assert replay_choice(h, "val", lambda epoch: epoch >= 3)["epoch"] == 4  # a first stage is never chosen
    assert replay_choice(h, "val", lambda epoch: False) is None
    del h[2]["val_worst_group_acc"]
    with pytest.raises(ValueError, match="epoch 3 of the history has no val_worst_group_acc"):
        replay_choice(h, "val-worst-group")
    assert replay_choice(h, "val-worst-group", lambda epoch: epoch != 3)["epoch"] == 2  # only a choosable row must have it
    with pytest.raises(ValueError, match="unknown checkpoint rule"):
        replay_choice(h, "auto")


def _run(root: Path, name: str, strategy: str, rule: str, best_epoch: int, options=None, history=None) -> Path:
    run = root / name
    run.mkdir(parents=True)
    config = {"train": {"strategy": strategy, "select": rule, "schedule": "constant"},
              "strategy": {strategy: options or {}}}
    (run / "config.json").write_text(json.dumps({"config": config}))
    (run / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (history or _history())))
    torch.save({"best": {"epoch": best_epoch, "rule": rule}}, run / "best.pt")
    return run


def test_the_script_replays_each_stored_rule_and_refuses_what_it_cannot_replay(tmp_path):
    script = _script()
    rule, rows = script.replay_run(_run(tmp_path, "dro", "group-dro", "val-worst-group", 2), [1, 3, 4])
    assert rule == "val-worst-group" and {b: r["epoch"] for b, r in rows.items()} == {1: 1, 3: 2, 4: 2}
    # JTT with T = 2: epochs 1-2 train its identification model, so only 3 and 4 may be chosen
    jtt = _run(tmp_path, "jtt", "jtt", "val-pseudo-group", 4, {"identify_epochs": 2})
    assert {b: r["epoch"] for b, r in script.replay_run(jtt, [3, 4])[1].items()} == {3: 3, 4: 4}
    with pytest.raises(SystemExit, match="jtt: no epoch among the first 2 may be chosen"):
        script.replay_run(jtt, [2])
    gap = _history()
    del gap[1]["val_worst_group_acc"]  # a history that does not hold the rule's score
    with pytest.raises(SystemExit, match="old: epoch 2 of the history has no val_worst_group_acc"):
        script.replay_run(_run(tmp_path, "old", "group-dro", "val-worst-group", 2, history=gap), [4])
    with pytest.raises(SystemExit, match="keeps epoch 2, but best.pt holds epoch 3"):
        script.replay_run(_run(tmp_path, "other", "erm", "val", 3), [4])


def test_replaying_a_trained_runs_history_gives_the_checkpoint_training_chose(trained):
    runs, out = trained
    _, rows = _script().replay_run(runs / "base", [1, 2, 3, 4])
    assert rows[4]["epoch"] == out["best_epoch"] and rows[1]["epoch"] == 1
