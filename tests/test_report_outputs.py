"""What `lazy report` writes and says about a shortcut suite: every file under the report's own folder, and no wall
time for a sweep whose last invocation reused every point (docs/commands.md, `lazy sweep`)."""

import json
from pathlib import Path

from typer.testing import CliRunner

from lazyartist_cli.cli.app import app
from lazyartist_cli.pipeline.report.suite import suite_section
from lazyartist_cli.pipeline.report.writer import Writer

runner = CliRunner()


def _suite(runs: Path, status: str, seconds: float = 5400.0) -> dict:
    """A suite over one protocol: erm and group-dro at two learning rates, two seeds, every run with a history."""
    points = []
    for strategy, knows, select in (("erm", "nothing", "val"), ("group-dro", "group labels on all training data",
                                                                 "val-worst-group")):
        for lr in (0.001, 0.003):
            for seed in (0, 1):
                run = f"s-{strategy}-{lr}-{seed}"
                points.append({"run": run, "axis:data.protocol": "decoy", "axis:train.strategy": strategy,
                               "axis:train.lr": lr, "axis:seed": seed, "status": status, "val": 0.9, "test_easy": 0.9,
                               "test_hard": 0.3 + lr, "unbiased": 0.4, "worst_group": 0.2, "protocol": "decoy",
                               "strategy": strategy, "knows": knows, "select": select, "lr": lr,
                               "selection_score": 0.9 - lr, "checkpoint_epoch": 2, "error": ""})
                (runs / run).mkdir(parents=True)
                (runs / run / "history.jsonl").write_text("".join(json.dumps({"epoch": e, "seconds": 30.0}) + "\n"
                                                                  for e in (1, 2)))
    data = {"sweep": "suite", "file": "suite.toml", "executor": "process", "workers": 2, "threads": 1, "seconds": seconds,
            "axes": {"data.protocol": ["decoy"], "train.strategy": ["erm", "group-dro"], "train.lr": [0.001, 0.003],
                     "seed": [0, 1]}, "points": points, "summary": {"groups": []}}
    (runs / "sweeps" / "suite").mkdir(parents=True)
    (runs / "sweeps" / "suite" / "results.json").write_text(json.dumps(data))
    return data


def test_a_sweep_that_reused_every_point_gives_no_wall_time(tmp_path):
    runs = tmp_path / "runs"
    data = _suite(runs, "reused", seconds=1234.0)
    w = Writer(runs, runs / "report")
    suite_section(w, data, runs / "sweeps" / "suite" / "results.json")
    text = "\n".join(w.lines)
    assert "The 8 runs trained for 8 minutes in all" in text  # the runs' own training time, from their histories
    assert "the sweep's last invocation reused every point, so it gives no wall time (it measured no training)." in text
    assert "1234" not in text and "21 minutes" not in text  # its 1234 s are not printed, in seconds or in minutes
    ran = _suite(tmp_path / "again", "ran", seconds=5400.0)
    w = Writer(tmp_path / "again", tmp_path / "again" / "report")
    suite_section(w, ran, tmp_path / "again" / "sweeps" / "suite" / "results.json")
    assert "the sweep's wall time was 90 minutes with `--executor process` x2" in "\n".join(w.lines)


def test_a_report_writes_nothing_outside_its_own_folder(tmp_path):
    runs = tmp_path / "runs"
    _suite(runs, "ran")
    before = {p for p in runs.rglob("*")}
    res = runner.invoke(app, ["report", "--runs-dir", str(runs), "--set", "report.dir=rep", "--json", "-q"])
    assert res.exit_code == 0, res.output
    written = {p for p in runs.rglob("*")} - before
    assert written, "the report wrote nothing"
    outside = sorted(str(p.relative_to(runs)) for p in written if not p.is_relative_to(runs / "rep"))
    assert outside == [], f"the report wrote outside runs/rep/: {outside}"
    # the suite's baseline-vs-learning-rate figure (two rates) is drawn, under the report's figures/, and linked
    assert (runs / "rep" / "figures" / "suite_suite_baseline_lr.png").is_file()
    assert "figures/suite_suite_baseline_lr.png" in (runs / "rep" / "REPORT.md").read_text()
