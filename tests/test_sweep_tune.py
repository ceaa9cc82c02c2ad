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
    methods = ("erm", "lff", "jtt", "ula", "dfa", "lc", "denetdm")
    assert {name: size(name) for name in methods} == dict.fromkeys(methods, 4)
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
              _row("lff", 2, 0.10, 0.99, 0.99, **{q: 0.8})]  # a seed the default lacks: not compared, but reported
    rows = grid_rows({"points": points, "choose": ["train.lr", q]})
    r = rows[("lff", 0.99)]
    assert r["paper"] == [0.70, 0.72] and r["unsupervised"] == [0.40, 0.44, 0.99] and r["chosen"] == {q: "0.8"}
    assert r["configs"] == 2 and r["seeds"] == 3 and r["chosen_on"] == 2


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


def test_tune_seeds_tune_there_and_mark_the_other_seeds_configurations_if_chosen(tmp_path):
    path = _write(tmp_path, 'tune_seeds = [0]\n[axes]\n"train.strategy" = ["erm"]\nseed = [0, 1]\n')
    sweep = load_sweep(path)
    marked = {p.name: p.tuned.if_chosen for p in sweep.points}
    assert list(marked.values()) == [False] * 5 + [True] * 3  # seed 0: all four; seed 1: the default, then three
    assert [p.name for p in sweep.tuning_points] == [p.name for p in sweep.points[:4]]
    only = load_sweep(path, only={"seed": ["1"]})  # the tuning seed's points are read even when --only leaves them out
    assert [p.name for p in only.tuning_points] == [p.name for p in sweep.points[:4]] and len(only.points) == 4
    fam = {p.tuned.family for p in sweep.points}
    assert len(fam) == 1 and sweep.points[4].tuned.config == () and sweep.points[5].tuned.config != ()


@pytest.mark.parametrize("body, needle", [
    ('name = "t"\ntune_seeds = [0]\n[axes]\nseed = [0]\n', "tune_seeds needs tune = true"),
    ('name = "t"\ntune = true\ntune_seeds = [5]\n[axes]\n"train.strategy" = ["erm"]\nseed = [0, 1]\n',
     "tune_seeds: 5 is not one of the sweep's seeds (0, 1)"),
])
def test_bad_tune_seeds_name_the_problem(tmp_path, body, needle):
    path = tmp_path / "s.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as exc:
        load_sweep(path)
    assert needle in " ".join(exc.value.problems)


def test_choose_takes_the_best_mean_score_a_tie_the_default_and_waits_for_every_score():
    from lazyartist_cli.pipeline.tuning import choose

    assert choose({(): [0.5, 0.7], (("q", "0.8"),): [0.6, 0.7]}) == (("q", "0.8"),)
    assert choose({(("q", "0.8"),): [0.6], (): [0.6]}) == ()
    assert choose({(): [0.9], (("q", "0.8"),): [None]}) is None


def test_the_sweep_trains_at_later_seeds_only_the_configuration_chosen_at_the_tuning_seeds(tmp_path, monkeypatch):
    """The order and the choice, with the training replaced by stored rule scores (the real training is test_sweep's)."""
    from lazyartist_cli.pipeline import sweep as sweep_mod

    path = _write(tmp_path, 'tune_seeds = [0]\n[axes]\n"train.strategy" = ["erm"]\nseed = [0, 1]\n')
    sw = load_sweep(path)
    best = sw.points[2].name  # lr 0.01, wd 0 at seed 0: the highest rule score
    trained = []

    def fake(job):
        if job.get("undecided") or (job["collect"] and job["name"] not in trained):
            return {"run": job["name"], "status": "pending", "seconds": 0.0}
        if not job["collect"]:
            trained.append(job["name"])
        return {"run": job["name"], "status": "ran", "seconds": 0.0, "selection_score": 0.9 if job["name"] == best else 0.5}

    monkeypatch.setattr(sweep_mod, "run_point", fake)
    # collect first (nothing trained): the later seed's configurations wait for the tuning seed
    res = sweep_mod.run_sweep(sw, tmp_path / "runs", collect=True)
    assert [p["status"] for p in res["points"]] == ["pending"] * 8 and res["not_chosen"] == []
    trained.extend(p.name for p in sw.points[:5])  # seed 0's four and seed 1's default have finished
    res = sweep_mod.run_sweep(sw, tmp_path / "runs", collect=True)
    chosen_later = sw.points[4 + 2].name  # seed 1's configuration with lr 0.01, wd 0 (the same place in its grid)
    assert chosen_later.endswith("lr_0.01-weight_decay_0.0-seed_1")
    assert [p["run"] for p in res["points"]] == [p.name for p in sw.points[:5]] + [chosen_later]
    assert res["points"][-1]["status"] == "pending"  # chosen, collected before it trained
    assert sorted(res["not_chosen"]) == sorted(p.name for p in sw.points[5:] if p.name != chosen_later)
