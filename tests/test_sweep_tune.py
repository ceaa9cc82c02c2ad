"""``tune = true`` sweeps: each strategy's own tuning grid, and the benchmark table (report/grid.py) built on them."""

import pytest

from lazyartist_cli.errors import ConfigError
from lazyartist_cli.pipeline.report.grid import grid_rows
from lazyartist_cli.pipeline.sweep_file import load_sweep
from lazyartist_cli.strategies import STRATEGIES


def _write(tmp_path, body):
    path = tmp_path / "s.toml"
    path.write_text('name = "t"\ntune = true\n' + body)
    return path


def test_tune_adds_each_strategys_other_configurations_and_lets_the_rule_choose_their_keys(tmp_path):
    sweep = load_sweep(_write(tmp_path, '[axes]\n"train.strategy" = ["erm", "jtt"]\nseed = [0]\n'))
    names = [p.name for p in sweep.points]
    assert names[0] == "t-strategy_erm-seed_0" and names[4] == "t-strategy_jtt-seed_0"  # the default keeps its name
    assert len(names) == 8 and names[1] == "t-strategy_erm-lr_0.001-weight_decay_0.0001-seed_0"
    assert sweep.points[3].config.train.lr == 0.01 and sweep.points[3].config.train.weight_decay == 0.0001
    assert sweep.points[7].config.strategy_config().upweight == 100
    assert {"train.lr", "train.weight_decay", "strategy.jtt.upweight", "strategy.jtt.identify_epochs"} <= set(sweep.spec.choose)


def test_a_point_off_its_methods_default_cannot_be_tuned(tmp_path):
    with pytest.raises(ConfigError, match="not the default of erm's tuning grid"):
        load_sweep(_write(tmp_path, '[set]\n"train.lr" = 0.003\n[axes]\n"train.strategy" = ["erm"]\n'))


def test_every_bias_unaware_method_of_the_benchmark_gets_as_many_configurations_as_the_baseline():
    def size(name):
        n = 1
        for values in STRATEGIES[name].tuning.values():
            n *= len(values)
        return n
    assert {name: size(name) for name in ("erm", "lff", "jtt", "ula", "dfa", "lc")} == dict.fromkeys(
        ("erm", "lff", "jtt", "ula", "dfa", "lc"), 4)
    for cls in STRATEGIES.values():  # the first value of each key is the option's own default
        for key, values in cls.tuning.items():
            if key.startswith("strategy."):
                assert getattr(cls.Config(), key.split(".")[2]) == values[0], key


def _row(strategy, seed, score, unbiased, last, **tuned):
    return {"run": f"{strategy}-{seed}-{tuned}", "status": "ran", "strategy": strategy, "axis:data.correlation": 0.99,
            "axis:train.strategy": strategy, "axis:seed": seed, **{f"axis:{k}": v for k, v in tuned.items()},
            "selection_score": score, "unbiased": unbiased, "last_unbiased": last, "select": "val-proxy-group"}


def test_the_table_keeps_the_defaults_last_epoch_and_the_configuration_with_the_best_mean_rule_score():
    q = "strategy.lff.q"
    points = [_row("lff", 0, 0.50, 0.60, 0.70), _row("lff", 1, 0.52, 0.62, 0.72),
              _row("lff", 0, 0.60, 0.40, 0.10, **{q: 0.8}), _row("lff", 1, 0.58, 0.44, 0.12, **{q: 0.8}),
              _row("lff", 2, 0.99, 0.99, 0.99, **{q: 0.8})]  # a seed the default lacks: not compared
    rows = grid_rows({"points": points, "choose": ["train.lr", q]})
    r = rows[("lff", 0.99)]
    assert r["paper"] == [0.70, 0.72] and r["unsupervised"] == [0.40, 0.44] and r["chosen"] == {q: "0.8"}
    assert r["configs"] == 2 and r["seeds"] == 2


def test_the_table_names_the_best_bias_unaware_method_and_its_gap_to_the_target(tmp_path):
    from lazyartist_cli.pipeline.report.grid import grid_table
    from lazyartist_cli.pipeline.report.writer import Writer

    points = [{**_row("lff", 0, 0.5, 0.60, 0.62), "knows": "nothing"},
              {**_row("erm", 0, 0.5, 0.40, 0.41), "knows": "nothing"},
              {**_row("group-dro", 0, 0.9, 0.90, 0.90, ), "knows": "group labels on all training data",
               "select": "val-worst-group"}]
    ref = {"source": "s", "metric": "last_unbiased", "tolerance": 3, "points": [
        {"match": {"train.strategy": "lff", "data.correlation": 0.99}, "value": 74.01}],
        "targets": [{"name": "DeNetDM", "source": "t", "note": "tuned with bias labels",
                     "match": {"data.correlation": 0.99}, "value": 85.22}]}
    w = Writer(tmp_path, tmp_path)
    grid_table(w, {"sweep": "g", "points": points, "choose": [], "reference": ref,
                   "labels": {"train.strategy": {"lff": "LfF"}}}, tmp_path / "results.json")
    text = "\n".join(w.lines)
    assert "| LfF | 1 | — | 62.0 (74.01) |" in text and "| LfF | `val-proxy-group` | 1 | 1 | 60.0 |" in text
    assert "| DeNetDM (published) | — | — | — | (85.22) |" in text
    # the best method that knows nothing, not the group-labelled reference above it
    assert "1%: LfF 60.0 vs 85.22 (-25.2)" in text and "DeNetDM was tuned with bias labels" in text


def test_defaults_only_keeps_each_points_default_configuration_with_its_name(tmp_path):
    path = _write(tmp_path, '[axes]\n"train.strategy" = ["erm", "jtt"]\nseed = [0]\n')
    assert [p.name for p in load_sweep(path, defaults_only=True).points] == ["t-strategy_erm-seed_0", "t-strategy_jtt-seed_0"]


def test_the_published_number_is_compared_with_the_default_configuration_only(tmp_path):
    from lazyartist_cli.pipeline.report.sweeps import _reference
    from lazyartist_cli.pipeline.report.writer import Writer

    def group(q, value):
        return {"values": {"data.correlation": 0.99, "train.strategy": "lff", "strategy.lff.q": q}, "strategy": "lff",
                "n": 1, "last_unbiased": value, "last_unbiased_std": None}
    ref = {"source": "s", "metric": "last_unbiased", "tolerance": 3,
           "points": [{"match": {"train.strategy": "lff", "data.correlation": 0.99}, "value": 74.0}]}
    w = Writer(tmp_path, tmp_path)
    _reference(w, {"sweep": "g", "tune": True, "reference": ref,
                   "summary": {"groups": [group(None, 0.75), group(0.8, 0.10)]}}, tmp_path / "results.json")
    text = "\n".join(w.lines)
    assert "1 of 1 points within 3" in text and "75.0" in text and "10.0" not in text


def test_the_wall_time_sentence_sums_the_invocations_that_trained():
    from lazyartist_cli.pipeline.report.grid import _wall

    data = {"invocations": [{"executor": "process", "workers": 2, "trained": 16, "seconds": 3600.0},
                            {"executor": "process", "workers": 2, "trained": 0, "seconds": 5.0},
                            {"executor": "local", "workers": 1, "trained": 2, "seconds": 1800.0}]}
    assert _wall(data) == (" Wall time of the 2 invocations that trained them (18 points, --executor local x1, "
                           "--executor process x2): 1.5 h.")
    assert _wall({}) == ""
