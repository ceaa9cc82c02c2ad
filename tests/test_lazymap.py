"""The laziness map: a sweep's long runs read as shorter budgets (``budgets``), and the report built on them."""

import pytest

from lazyartist_cli.errors import ConfigError
from lazyartist_cli.pipeline.sweep_file import load_sweep


@pytest.mark.parametrize("extra, needle", [
    ('"train.epochs" = 6\n"train.schedule" = "cosine"\n', "cosine schedule"),
    ('"train.epochs" = 4\n', "trains 4 epochs"),
])
def test_a_budget_must_be_a_prefix_of_the_points_own_run(tmp_path, extra, needle):
    path = tmp_path / "m.toml"
    path.write_text('name = "m"\nbudgets = [2, 6]\n[set]\n' + extra + '[axes]\nseed = [0]\n')
    with pytest.raises(ConfigError) as exc:
        load_sweep(path)
    assert needle in exc.value.problems[0]


def test_budgets_must_increase(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('name = "m"\nbudgets = [6, 2]\n[axes]\nseed = [0]\n')
    with pytest.raises(ConfigError, match="increasing"):
        load_sweep(path)


def _hist(vals, hards, fits=None):
    return [{"epoch": i + 1, "val_acc": v, "hard_acc_monitor": h, "train_objective": 1.0 / (i + 1),
             "train_conflicting_acc_monitor": (fits or [0.0] * len(vals))[i]} for i, (v, h) in enumerate(zip(vals, hards))]


def test_a_budget_keeps_the_rules_best_epoch_so_far_as_the_training_loop_does():
    from lazyartist_cli.pipeline.report.lazymap import budget_checkpoints

    kept = budget_checkpoints(_hist([0.9, 0.95, 0.95, 0.97, 0.96], [0.1, 0.2, 0.3, 0.4, 0.5]), "val_acc")
    assert [r["epoch"] for r in kept] == [1, 2, 2, 4, 4]  # a tie keeps the earlier epoch


def test_the_map_reads_each_budget_at_the_rate_the_rule_chooses_there_and_marks_the_lazy_cells(tmp_path):
    import json

    from lazyartist_cli.pipeline.report.lazymap import map_section
    from lazyartist_cli.pipeline.report.writer import Writer

    runs = {  # lr 1e-3 has the better val early, 3e-3 late (where it has read shape)
        "a": (0.001, _hist([0.96, 0.97, 0.97, 0.97], [0.05, 0.06, 0.07, 0.08])),
        "b": (0.003, _hist([0.95, 0.96, 0.98, 0.99], [0.05, 0.10, 0.50, 0.60], fits=[0.9, 0.95, 0.95, 0.95])),
    }
    points = []
    for name, (lr, hist) in runs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in hist))
        points.append({"run": name, "status": "ran", "select": "val", "protocol": "foreground", "lr": lr,
                       "axis:data.correlation": 0.99, "axis:train.lr": lr, "axis:seed": 0})
    w = Writer(tmp_path, tmp_path)
    map_section(w, {"sweep": "m", "budgets": [2, 4], "points": points,
                    "labels": {"data.correlation": {"0.99": "1%"}}}, tmp_path / "results.json", tmp_path / "map.png")
    text = "\n".join(w.lines)
    assert "| foreground | 1% | **6.0 (0.001)** | 60.0 (0.003) | 1 | 3 |" in text  # the fitted share's plateau
    assert "on `foreground`, lazy at no share, not lazy at 1% (lr 0.003, 60.0% hard, 1 seed)" in text
    assert (tmp_path / "map.png").is_file()


def test_converged_is_the_start_of_the_fitted_shares_plateau_with_a_quarter_of_the_run_after_it():
    from lazyartist_cli.pipeline.report.lazymap import converged_epoch

    flat_late = _hist([0.9] * 8, [0.1] * 8, fits=[0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.95, 0.95])
    assert converged_epoch(flat_late) is None  # the plateau starts too late in the run to be shown
    early = _hist([0.9] * 12, [0.1] * 12, fits=[0.5, 0.9] + [0.96] * 10)
    assert converged_epoch(early) == 7  # the 5-epoch mean first reaches 0.96 - 0.01 at epoch 7; five epochs follow
    assert converged_epoch([{"epoch": 1, "val_acc": 0.9}]) is None  # not logged


def test_a_studys_setting_is_placed_on_the_map_with_the_rate_its_rule_would_choose(tmp_path):
    import json

    from lazyartist_cli.pipeline.report.lazymap import map_position

    points = []
    for name, lr, hist in (("a", 0.001, _hist([0.96, 0.97, 0.97, 0.97], [0.05, 0.06, 0.07, 0.08], fits=[0.1] * 4)),
                           ("b", 0.003, _hist([0.95, 0.96, 0.98, 0.99], [0.05, 0.10, 0.50, 0.60], fits=[0.1] * 4))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in hist))
        points.append({"run": name, "status": "ran", "select": "val", "protocol": "foreground", "lr": lr,
                       "axis:data.correlation": 0.99, "axis:train.lr": lr, "axis:seed": 0})
    (tmp_path / "sweeps" / "m").mkdir(parents=True)
    (tmp_path / "sweeps" / "m" / "results.json").write_text(json.dumps(
        {"sweep": "m", "file": "m.toml", "budgets": [2, 4], "points": points}))
    early = map_position(tmp_path, "foreground", 0.99, 0.001, 2)
    assert "gives the baseline 6.0% hard; its rule would choose lr 0.001 at this budget" in early
    assert "has converged (by epoch 1): lazy there" in early
    late = map_position(tmp_path, "foreground", 0.99, 0.001, 4)
    assert "its rule would choose lr 0.003 at this budget (60.0% hard)" in late and late.endswith("not lazy there")
    assert map_position(tmp_path, "background", 0.99, 0.001, 2) is None
