"""The shortcut suite in the report: a sweep over data.protocol read as one table protocol x method x
knowledge class, each method's learning rate chosen by its own rule (never hard data), and the README
block copied from the report."""

import json
import statistics
from pathlib import Path

from lazyartist_cli.pipeline.report.suite import choose_learning_rates, suite_groups
from lazyartist_cli.pipeline.report.sweeps import _sweep_sections
from lazyartist_cli.pipeline.report.writer import Writer



def _point(proto, strat, lr, seed, score, hard, knows="nothing", select="val"):
    return {"run": f"s-{proto}-{strat}-{lr}-{seed}", "axis:data.protocol": proto, "axis:train.strategy": strat,
            "axis:train.lr": lr, "axis:seed": seed, "status": "ran", "val": score, "test_easy": score,
            "test_hard": hard, "unbiased": hard + 0.01, "worst_group": hard - 0.01, "protocol": proto, "strategy": strat,
            "knows": knows, "select": select, "lr": lr, "selection_score": score, "checkpoint_epoch": 3, "error": ""}


def _suite(tmp_path: Path) -> Path:
    points = []
    for seed, jitter in ((0, 0.0), (1, 0.02)):
        # erm: 3e-3 has the higher easy val (its rule) but also the higher hard test
        points += [_point("decoy", "erm", 0.001, seed, 0.95 + jitter, 0.10 + jitter),
                   _point("decoy", "erm", 0.003, seed, 0.97 + jitter, 0.60 + jitter)]
        # group-dro: its rule's score prefers 1e-3 although 3e-3 scores higher on hard test
        points += [_point("decoy", "group-dro", 0.001, seed, 0.80 + jitter, 0.70 + jitter,
                          "group labels on all training data", "val-worst-group"),
                   _point("decoy", "group-dro", 0.003, seed, 0.50 + jitter, 0.90 + jitter,
                          "group labels on all training data", "val-worst-group")]
    out = tmp_path / "runs" / "sweeps" / "suite"
    out.mkdir(parents=True)
    data = {"sweep": "suite", "file": "suite.toml", "executor": "local", "workers": 1, "threads": 1, "seconds": 1.0,
            "axes": {"data.protocol": ["decoy"], "train.strategy": ["erm", "group-dro"], "train.lr": [0.001, 0.003],
                     "seed": [0, 1]}, "points": points, "summary": {"groups": []}}
    (out / "results.json").write_text(json.dumps(data))
    return tmp_path / "runs"


def test_each_method_keeps_the_learning_rate_its_own_rule_prefers(tmp_path):
    runs = _suite(tmp_path)
    data = json.loads((runs / "sweeps" / "suite" / "results.json").read_text())
    groups = choose_learning_rates(suite_groups(data["points"]))
    chosen = {(g["strategy"], g["lr"]) for g in groups if g["chosen"]}
    assert chosen == {("erm", 0.003), ("group-dro", 0.001)}  # by the rule's score, not by hard test
    erm = next(g for g in groups if g["strategy"] == "erm" and g["lr"] == 0.003)
    assert erm["values"]["test_hard"] == [0.60, 0.62] and erm["of"] == [0.001, 0.003]


def test_a_rule_that_scores_nothing_chooses_no_rate():
    points = [{**_point("decoy", "erm", lr, seed, 0.9, 0.5, select="last"), "selection_score": None}
              for lr in (0.001, 0.003) for seed in (0, 1)]
    points += [_point("decoy", "group-dro", 0.001, 0, None, 0.5)]  # one value: nothing to choose between, kept
    groups = choose_learning_rates(suite_groups(points))
    assert [(g["strategy"], g["chosen"]) for g in groups] == [("erm", False), ("erm", False), ("group-dro", True)]


def test_a_strategy_option_the_sweep_lets_the_rule_choose_is_chosen_like_the_rate(tmp_path):
    """`choose = ["train.lr", "strategy.jtt.upweight"]`: the upweights form one family with the rates, the rule's
    score picks one (not hard test), and the table and headline name the value it chose and those it chose from."""
    points = []
    for seed, jitter in ((0, 0.0), (1, 0.02)):
        for up, score, hard in ((20, 0.60, 0.40), (50, 0.70, 0.50), (100, 0.65, 0.80)):
            p = _point("background", "jtt", 0.001, seed, score + jitter, hard + jitter, select="val-pseudo-group")
            points.append({**p, "run": f"{p['run']}-{up}", "axis:strategy.jtt.upweight": up})
        points.append(_point("background", "erm", 0.001, seed, 0.99, 0.05 + jitter))
    groups = choose_learning_rates(suite_groups(points, choose=["train.lr", "strategy.jtt.upweight"]))
    jtt = [g for g in groups if g["strategy"] == "jtt"]
    assert len(jtt) == 3 and {g["label"] for g in jtt} == {""}
    assert [g["picks"] for g in jtt if g["chosen"]] == [{"strategy.jtt.upweight": 50}]  # the rule's 0.71, not hard's 0.81
    assert all(g["options"] == {"strategy.jtt.upweight": [20, 50, 100]} for g in jtt)
    # without the key in `choose` each upweight is its own method
    apart = choose_learning_rates(suite_groups(points))
    assert sum(g["chosen"] for g in apart if g["strategy"] == "jtt") == 3
    out = tmp_path / "runs" / "sweeps" / "s"
    out.mkdir(parents=True)
    (out / "results.json").write_text(json.dumps({
        "sweep": "s", "file": "s.toml", "executor": "local", "workers": 1, "threads": 1, "seconds": 1.0,
        "axes": {"data.protocol": ["background"], "seed": [0, 1]}, "grids": 1,
        "choose": ["train.lr", "strategy.jtt.upweight"], "points": points, "summary": {"groups": []}}))
    w = Writer(tmp_path / "runs", tmp_path / "runs" / "report")
    _sweep_sections(w, tmp_path / "runs")
    text = "\n".join(w.lines)
    row = next(line for line in text.splitlines() if line.startswith("| `background` | `jtt`"))
    assert "`jtt` (upweight=50 of 20, 50, 100)" in row and "50.0 ± 1.4%" in row
    assert "knowing nothing: `jtt` (upweight=50) 51.0 ± 1.4%" in text
    assert "(and `strategy.jtt.upweight`, where the sweep tries several values of it)" in text
    assert "| `background` | `jtt` (upweight=100 of 20, 50, 100) |" in text  # every value tried is listed


def test_the_suite_table_and_headline_and_the_readme_block(tmp_path):
    runs = _suite(tmp_path)
    w = Writer(runs, runs / "report")
    w.h(2, "5. Robust training")
    _sweep_sections(w, runs)
    text = "\n".join(w.lines)
    hard = statistics.fmean([0.60, 0.62])
    sd = statistics.stdev([0.60, 0.62])
    row = next(line for line in text.splitlines() if line.startswith("| `decoy` | `erm`"))
    assert f"{100 * hard:.1f} ± {100 * sd:.1f}%" in row and "0.003 (of 0.001, 0.003)" in row
    # not lazy at its rule's rate: the headline says so, and names the best method per knowledge class
    assert "**not lazy**" in text and "knowing group labels on all training data: `group-dro` 71.0 ± 1.4%" in text


def test_cost_counts_a_refit_and_the_suite_states_its_compute_in_bare_erm_epochs(tmp_path):
    runs = tmp_path / "runs"
    points = []
    for seed in (0, 1):
        for strat, knows in (("erm", "nothing"), ("dfr", "group labels on a held-out set")):
            p = _point("foreground", strat, 0.001, seed, 0.95, 0.3, knows)
            points.append(p)
            run = runs / p["run"]
            run.mkdir(parents=True)
            (run / "history.jsonl").write_text("".join(json.dumps({"epoch": e, "seconds": 10.0}) + "\n" for e in range(1, 13)))
            (run / "config.json").write_text(json.dumps({"config": {"seed": seed}}))
            (run / "best.pt").write_bytes(b"a checkpoint")  # not exported
            if strat == "dfr":  # 12 epochs of 10 s and a refit of 30 s: 1.25 baseline runs
                (run / "refit.json").write_text(json.dumps({"c": 1.0, "seconds": 30.0}))
    out = runs / "sweeps" / "suite"
    out.mkdir(parents=True)
    (out / "results.json").write_text(json.dumps({
        "sweep": "suite", "file": "suite.toml", "executor": "process", "workers": 2, "threads": 1, "seconds": 600.0,
        "axes": {"data.protocol": ["foreground"], "train.strategy": ["erm", "dfr"], "seed": [0, 1]}, "points": points,
        "grids": 2, "includes": 1, "summary": {"groups": []}}))
    w = Writer(runs, runs / "report")
    _sweep_sections(w, runs)
    text = "\n".join(w.lines)
    row = next(line for line in text.splitlines() if line.startswith("| `foreground` | `dfr`"))
    assert row.endswith("| 1.25 |")
    assert "`seed` = [0, 1]; and 2 `[[grid]]` tables, 1 `[[include]]` point), run with" in text  # not only the axes
    assert "The 4 runs trained for 9 minutes in all, 4.5 baseline runs or 54 bare ERM epochs" in text
    assert "`dfr`: the last layer is refitted on the validation split" in text
    # the committed compact results (lazy export) give the same suite section, cost column included
    from lazyartist_cli.pipeline.export import run_export

    res = run_export(runs, tmp_path / "results")
    assert {f["folder"] for f in res["folders"]} >= {"sweeps/suite", points[0]["run"]}
    assert not list((tmp_path / "results").rglob("*.pt"))
    again = Writer(tmp_path / "results", tmp_path / "elsewhere")
    _sweep_sections(again, tmp_path / "results")
    assert again.lines == w.lines


def _frontier_lines(tmp_path, axis, values, extra_axes, rows, with_input=False):
    """The report lines of a two-seed lr sweep (no protocol axis) whose points vary ``axis`` over ``values``."""
    runs = tmp_path / "runs"
    points = []
    for seed, jitter in ((0, 0.0), (1, 0.002)):
        for value, lr, score, hard in rows:
            p = _point("foreground", "erm", lr, seed, score + jitter, hard + jitter)
            del p["axis:data.protocol"]
            p["run"] += value
            points.append({**p, f"axis:{axis}": value, **({"input": value} if with_input else {})})
    out = runs / "sweeps" / "frontier"
    out.mkdir(parents=True)
    (out / "results.json").write_text(json.dumps({
        "sweep": "frontier", "file": "f.toml", "executor": "local", "workers": 1, "threads": 1, "seconds": 1.0,
        "axes": {axis: values, **extra_axes}, "points": points, "summary": {"groups": []}}))
    w = Writer(runs, runs / "report")
    _sweep_sections(w, runs)
    return w.lines


def test_a_sweep_over_the_learning_rate_states_each_configurations_rule_choice_and_laziness(tmp_path):
    lines = _frontier_lines(tmp_path, "train.model_options", ["a", "b"], {"train.lr": [0.001, 0.003], "seed": [0, 1]}, (
        ("a", 0.001, 0.955, 0.05), ("a", 0.003, 0.952, 0.30), ("b", 0.001, 0.955, 0.05), ("b", 0.003, 0.975, 0.60)))
    lines = [line for line in lines if line.startswith("- `erm`")]
    assert len(lines) == 2
    # design a: its rule prefers 1e-3, where it is lazy; design b: 3e-3 (higher easy val), where it is not
    assert "model_options=a: lr 0.001 (of 0.001, 0.003) by `val`" in lines[0] and lines[0].endswith("**lazy** (easy val > 95%, hard < 20%)")
    assert "model_options=b: lr 0.003 (of 0.001, 0.003)" in lines[1] and "hard test 60.1 ± 0.1%" in lines[1]
    assert lines[1].endswith("not lazy (easy val > 95%, hard < 20%)")


def test_a_lazy_design_is_shown_beside_its_colour_blind_reference(tmp_path):
    lines = _frontier_lines(tmp_path, "train.input", ["rgb", "colorblind"], {"train.lr": [0.001, 0.003], "seed": [0, 1]}, (
        ("rgb", 0.001, 0.955, 0.05), ("rgb", 0.003, 0.952, 0.30), ("colorblind", 0.001, 0.80, 0.80),
        ("colorblind", 0.003, 0.85, 0.84)), with_input=True)
    rgb = next(line for line in lines if line.startswith("- `erm`, train.input=rgb"))
    assert "lr 0.001" in rgb and "**lazy**" in rgb and rgb.endswith("colour-blind reference: hard test 84.1 ± 0.1%")
