"""`lazy sweep`: the same metrics under every executor and point by point, resumable after a kill,
a failed point does not stop the others, bad sweep files exit 2 naming the key."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lazyartist_cli.cli.app import app
from lazyartist_cli.config import load_config
from lazyartist_cli.errors import ConfigError
from lazyartist_cli.pipeline.evaluate import run_eval
from lazyartist_cli.pipeline.sweep_file import load_sweep, point_name
from lazyartist_cli.pipeline.train import run_train

runner = CliRunner()

SWEEP = """
name = "t"
threads = 1
[set]
"data.n_train" = 2000
"data.n_val" = 500
"data.n_test" = 500
"train.epochs" = 2
"train.lr" = 0.004
[axes]
"train.strategy" = ["erm", "consistency"]
seed = [0, 1]
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory, mnist_dir):
    """A sweep file and a runs dir with its dataset built (the sweep would build it too)."""
    d = tmp_path_factory.mktemp("sweep")
    path = d / "t.toml"
    path.write_text(SWEEP.replace("[set]\n", f'[set]\n"data.mnist_dir" = "{mnist_dir}"\n'))
    runs = d / "runs"
    res = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(runs), "--json", "-q"])
    assert res.exit_code == 0, res.output
    return path, runs, json.loads(res.stdout)


def metrics(result):
    return [(p["run"], p["val"], p["test_easy"], p["test_hard"]) for p in result["points"]]


def fresh(tmp_path, runs):
    out = tmp_path / "runs"
    out.mkdir()
    shutil.copytree(runs / "datasets", out / "datasets")
    return out


def test_points_names_and_files(base):
    path, runs, res = base
    assert res["ok"] and [p["status"] for p in res["points"]] == ["ran"] * 4
    assert [p["run"] for p in res["points"]] == [
        "t-strategy_erm-seed_0", "t-strategy_erm-seed_1", "t-strategy_consistency-seed_0", "t-strategy_consistency-seed_1"]
    for f in ("results.json", "results.csv", "results.png"):
        assert (runs / "sweeps" / "t" / f).is_file()
    assert (runs / "sweeps" / "t" / "results.csv").read_text().count("\n") == 5
    assert [g["n"] for g in res["summary"]["groups"]] == [2, 2]
    assert res["choose"] == ["train.lr"]  # the default: the report lets each method's rule choose only its rate
    again = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(runs), "--json", "-q"])
    assert [p["status"] for p in json.loads(again.stdout)["points"]] == ["reused"] * 4
    assert metrics(json.loads(again.stdout)) == metrics(res)


@pytest.mark.parametrize("executor", ["process", "ray"])
def test_every_executor_gives_the_same_metrics(base, tmp_path, executor):
    if executor == "ray":
        pytest.importorskip("ray")
    path, runs, res = base
    out = fresh(tmp_path, runs)
    r = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(out), "--executor", executor, "--workers", "2", "--json", "-q"])
    assert r.exit_code == 0, r.output
    assert metrics(json.loads(r.stdout)) == metrics(res)


def test_a_point_trained_on_its_own_gives_the_same_metrics(base, tmp_path):
    import torch

    path, runs, res = base
    out = fresh(tmp_path, runs)
    sw = load_sweep(path)
    p = sw.points[2]
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the sweep file says
    try:
        cfg = load_config(None, p.overrides)
        run_train(cfg, out)
        ev = run_eval(cfg, out, [p.name])[p.name]
    finally:
        torch.set_num_threads(before)
    want = next(x for x in res["points"] if x["run"] == p.name)
    assert (ev["val"], ev["test_easy"], ev["test_hard"]) == (want["val"], want["test_easy"], want["test_hard"])


def test_killed_sweep_reruns_only_the_missing_points(base, tmp_path):
    path, runs, res = base
    out = fresh(tmp_path, runs)
    proc = subprocess.Popen([sys.executable, "-m", "lazyartist_cli", "sweep", str(path), "--runs-dir", str(out), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = out / res["points"][0]["run"] / "eval" / "metrics.json"
    deadline = time.time() + 300
    while not first.is_file() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(out), "--json", "-q"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    statuses = [p["status"] for p in got["points"]]
    assert statuses[0] == "reused" and "reused" not in statuses[2:]  # the killed one ran or resumed; later ones ran
    assert metrics(got) == metrics(res)


def test_process_sweep_killed_at_a_random_point_then_rerun_gives_the_same_metrics(base, tmp_path):
    """SIGKILL the driver of `--executor process` at a seeded random point (a random delay after the first
    point's training began): its workers end with it, no lock refuses the rerun, and the rerun ends with the metrics of the
    uninterrupted local run (the `base` fixture; the executors agree bitwise, see above). The rerun is local:
    what the kill left is resumable by any executor, and it saves the workers' start-up."""
    import random

    path, runs, res = base
    out = fresh(tmp_path, runs)
    rng = random.Random(24)
    delay = rng.uniform(0.2, 3.0)
    proc = subprocess.Popen([sys.executable, "-m", "lazyartist_cli", "sweep", str(path), "--runs-dir", str(out), "-q",
                             "--executor", "process", "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = [out / p["run"] / "config.json" for p in res["points"]]  # written when a point's training begins
    finished = [out / p["run"] / "eval" / "metrics.json" for p in res["points"]]
    deadline = time.time() + 300
    while not any(f.is_file() for f in started) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(delay)  # then a seeded random instant of the first points' training
    assert proc.poll() is None, "the sweep ended before the kill: the test proved nothing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert sum(f.is_file() for f in finished) < len(finished)
    r = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(out), "--json", "-q"])  # resumable by any executor
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    statuses = [p["status"] for p in got["points"]]
    assert got["ok"] and any(st in ("ran", "resumed", "evaluated") for st in statuses), statuses  # the kill left work
    assert metrics(got) == metrics(res)


def test_a_failed_point_does_not_stop_the_others(base, tmp_path):
    path, runs, res = base
    out = fresh(tmp_path, runs)
    clash = out / res["points"][1]["run"]
    clash.mkdir()
    (clash / "config.json").write_text(json.dumps({"config": {"train": {"strategy": "something else"}}}))
    r = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(out), "--json", "-q"])
    assert r.exit_code == 1
    got = json.loads(r.stdout)
    assert [p["status"] for p in got["points"]] == ["ran", "failed", "ran", "ran"]
    assert "different config" in got["points"][1]["error"] and not got["ok"]


@pytest.mark.parametrize("text, needle", [
    ('name = "b"\nbogus = 1\n[axes]\nseed = [0]\n', "bogus"),
    ('name = "b"\n[axes]\n"train.epochz" = [1, 2]\n', "train.epochz"),
    ('name = "b"\n[axes]\n"train.strategy" = ["erm", "magic"]\n', "magic"),
    ('name = "b"\n[axes]\nseed = []\n', "no values"),
    ('name = "b/../x"\n[axes]\nseed = [0]\n', "name"),
    ('name = "b"\n', "no points"),
    ('name = "b"\n[axes]\nseed = [0]\n[[exclude]]\n"train.lr" = 1\n', "not an axis"),
    ('name = "b"\n[[grid]]\nseed = [0, 0]\n', "twice"),
    ('name = "b"\n[[grid]]\nseed = 0\n', "grid"),
    ('name = "b"\n[[grid]]\n"train.epochz" = [1]\n', "train.epochz"),
    ('name = "b"\nchoose = ["data.protocol"]\n[axes]\nseed = [0]\n', "cannot be chosen"),
    ('name = "b"\nchoose = ["lr"]\n[axes]\nseed = [0]\n', "not a training key"),
    ('name = "b"\n[axes]\nseed = [0]\n[reference]\nsource = "x"\npoints = [{ match = { "train.lr" = 1 }, value = 5 }]\n',
     "reference.points.0.match: 'train.lr' is not a key"),
    ('name = "b"\n[axes]\nseed = [0]\n[reference]\nsource = "x"\npoints = [{ match = { seed = 0 }, value = 500 }]\n',
     "reference.points.0.value"),
    ('name = "b"\n[axes]\nseed = [0]\n[reference]\nsource = "x"\npoints = [{ match = { seed = 1 }, value = 5 }]\n',
     "no point of the sweep has these values"),
    ('name = "b"\n[axes]\nseed = [0]\n[reference]\nsource = "x"\nmetric = "magic"\npoints = [{ match = { seed = 0 }, value = 5 }]\n',
     "reference.metric"),
])
def test_bad_sweep_files_exit_2_naming_the_problem(tmp_path, text, needle):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    r = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(tmp_path / "runs")])
    assert r.exit_code == 2 and needle in r.output and "Traceback" not in r.output, r.output


@pytest.mark.parametrize("key, valid", [
    ("train.nope", "valid train keys: train.name, "), ("strategy.jtt.nope", "valid: strategy.jtt.identify_epochs, "),
    ("strategy.nope.x", "valid: strategy.color-entropy.*, "), ("train.model_options.nope", "valid: train.model_options."),
])
def test_a_chosen_key_that_is_no_run_file_key_is_one_usage_line_naming_the_valid_keys(tmp_path, key, valid):
    path = tmp_path / "c.toml"
    path.write_text(f'name = "c"\nchoose = ["{key}"]\n[axes]\nseed = [0]\n')
    r = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(tmp_path / "runs")])
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and f"choose: {key!r}" in lines[0] and valid in lines[0], r.output
    assert not (tmp_path / "runs").exists()  # refused before anything is built or trained
    path.write_text('name = "c"\nchoose = ["train.lr", "strategy.jtt.upweight", "train.model_options.width"]\n'
                    '[axes]\nseed = [0]\n')
    assert load_sweep(path).spec.choose[1] == "strategy.jtt.upweight"  # run-file keys are accepted


def test_a_reference_is_checked_against_the_whole_sweep_not_the_points_only_keeps(tmp_path):
    """`--only` keeps a subset: a [reference] point for a value left out is no error (it matches a point of the
    file); the report compares only the points that ran (its rows come from results.json)."""
    path = tmp_path / "r.toml"
    ref = ('[reference]\nsource = "x"\npoints = [{ match = { "data.correlation" = 0.95 }, value = 50 }, '
           '{ match = { "data.correlation" = %s }, value = 60 }]\n')
    path.write_text('name = "r"\n[axes]\n"data.correlation" = [0.95, 0.99]\nseed = [0]\n' + ref % "0.99")
    kept = load_sweep(path, only={"data.correlation": ["0.99"]})
    assert [p.values for p in kept.points] == [{"data.correlation": 0.99, "seed": 0}]
    path.write_text('name = "r"\n[axes]\n"data.correlation" = [0.95, 0.99]\nseed = [0]\n' + ref % "0.9")
    with pytest.raises(ConfigError, match="reference.points.1.match: no point of the sweep has these values"):
        load_sweep(path, only={"data.correlation": ["0.99"]})  # a value of no point of the file is still an error


def test_extra_grids_are_products_after_the_axes_and_includes(tmp_path):
    from lazyartist_cli.pipeline.sweep_file import load_sweep

    path = tmp_path / "g.toml"
    path.write_text('name = "g"\n[axes]\nseed = [0, 1]\n[[exclude]]\nseed = 1\n'
                    '[[include]]\n"train.lr" = 0.01\nseed = 5\n'
                    '[[grid]]\n"train.lr" = [0.1, 0.2]\nseed = [1, 2]\n')
    sweep = load_sweep(path)
    assert [p.values for p in sweep.points] == [
        {"seed": 0}, {"train.lr": 0.01, "seed": 5},
        {"train.lr": 0.1, "seed": 1}, {"train.lr": 0.1, "seed": 2}, {"train.lr": 0.2, "seed": 1}, {"train.lr": 0.2, "seed": 2}]
    assert sweep.points[3].name == "g-lr_0.1-seed_2" and sweep.points[3].config.train.lr == 0.1
    kept = load_sweep(path, only={"train.lr": ["0.2"]})
    assert [p.values for p in kept.points] == [{"train.lr": 0.2, "seed": 1}, {"train.lr": 0.2, "seed": 2}]


def test_unknown_executor_and_names():
    assert point_name("s", {"train.strategy": "erm", "seed": 1}) == "s-strategy_erm-seed_1"
    long = point_name("s", {f"k{i}": "v" * 20 for i in range(6)})
    assert len(long) <= 100 and long == point_name("s", {f"k{i}": "v" * 20 for i in range(6)})
    r = runner.invoke(app, ["sweep", "/nonexistent.toml", "--executor", "slurm"])
    assert r.exit_code == 2 and "unknown executor 'slurm'; valid: local, process, ray" in r.output


def test_workers_without_a_parallel_executor_is_refused(tmp_path):
    path = tmp_path / "w.toml"
    path.write_text('name = "w"\n[axes]\nseed = [0]\n')
    r = runner.invoke(app, ["sweep", str(path), "--workers", "2", "--runs-dir", str(tmp_path / "runs")])
    assert r.exit_code == 2 and "--workers 2 needs --executor process or ray" in r.output
    assert not (tmp_path / "runs").exists()  # refused before anything is written


def test_summary_over_seeds_and_the_two_axis_heatmap(tmp_path):
    from lazyartist_cli.pipeline.sweep import summarise, sweep_figure

    def row(strategy, lr, seed, hard):
        return {"run": f"r{strategy}{lr}{seed}", "axis:train.strategy": strategy, "axis:train.lr": lr, "axis:seed": seed,
                "status": "ran", "val": 0.9, "test_easy": 0.9, "test_hard": hard}

    rows = [row(s, lr, seed, h) for (s, lr, h0) in (("erm", 0.1, 0.1), ("erm", 0.01, 0.2), ("consistency", 0.1, 0.8))
            for seed, h in ((0, h0), (1, h0 + 0.02))]
    rows.append({**row("consistency", 0.01, 0, None), "status": "failed"})
    sm = summarise(rows, "test_hard")
    assert sm["axes"] == ["train.strategy", "train.lr"]
    g = {(x["values"]["train.strategy"], x["values"]["train.lr"]): x for x in sm["groups"]}
    assert set(g) == {("erm", 0.1), ("erm", 0.01), ("consistency", 0.1)}  # the failed point is left out
    assert g["erm", 0.1]["n"] == 2 and g["erm", 0.1]["test_hard"] == pytest.approx(0.11)
    assert g["erm", 0.1]["test_hard_std"] == pytest.approx(0.01414, abs=1e-4)
    assert sweep_figure(sm, "test_hard", tmp_path / "heat.png", "t").is_file()
    one = summarise([r for r in rows if r["axis:train.lr"] == 0.1], "test_hard")
    assert sweep_figure({**one, "axes": ["train.strategy"]}, "test_hard", tmp_path / "line.png", "t").is_file()
    # no figure (docs/commands.md: "when the points vary one or two keys besides the seed and one succeeded")
    three = summarise([{**r, "axis:data.correlation": 0.9} for r in rows], "test_hard")
    seeds_only = summarise([{k: v for k, v in r.items() if k not in ("axis:train.strategy", "axis:train.lr")} for r in rows],
                           "test_hard")
    all_failed = summarise([{**r, "status": "failed"} for r in rows], "test_hard")
    assert len(three["axes"]) == 3 and seeds_only["axes"] == [] and all_failed["groups"] == []
    for i, sm in enumerate((three, seeds_only, all_failed)):
        assert sweep_figure(sm, "test_hard", tmp_path / f"none{i}.png", "t") is None
        assert not (tmp_path / f"none{i}.png").exists()


def test_a_reference_sets_published_numbers_beside_the_points_they_match(tmp_path):
    from lazyartist_cli.pipeline.report.sweeps import _reference
    from lazyartist_cli.pipeline.report.writer import Writer
    from lazyartist_cli.pipeline.sweep import summarise

    def row(strategy, select, seed, unbiased):
        return {"run": f"r{strategy}{select}{seed}", "axis:train.strategy": strategy, "axis:seed": seed,
                **({"axis:train.select": select} if select else {}), "status": "ran", "val": 0.9, "test_easy": 0.9,
                "test_hard": 0.5, "unbiased": unbiased}

    rows = [row("erm", None, 0, 0.78), row("erm", None, 1, 0.80), row("erm", "last", 0, 0.70), row("erm", "last", 1, 0.72),
            row("lff", None, 0, 0.90), row("lff", None, 1, 0.90)]
    data = {"sweep": "rep", "summary": summarise(rows, "test_hard"),
            "reference": {"source": "Paper, Table 1", "metric": "unbiased", "tolerance": 3.0,
                          "points": [{"match": {"train.strategy": "erm"}, "value": 77.0, "std": 1.0},
                                     {"match": {"train.strategy": "lff", "train.select": "last"}, "value": 50.0}]}}
    w = Writer(tmp_path, tmp_path)
    w.h(2, "5. Sweeps")
    _reference(w, data, tmp_path / "results.json")
    text = "\n".join(w.lines)
    # both erm variants match the erm number (+2.0 within 3, -6.0 not); no lff point has select=last: no row for 50.0
    assert "(Paper, Table 1; *unbiased* accuracy, %): 1 of 2 points within 3 points" in text
    assert "| train.strategy=erm | 2 | 79.0 ± 1.4 | 77.00 ± 1.00 | +2.0 | yes |" in text
    assert "| train.strategy=erm, train.select=last | 2 | 71.0 ± 1.4 | 77.00 ± 1.00 | -6.0 | **no** |" in text
    assert "50.00" not in text and "lff" not in text
    assert [n["value"] for n in w.numbers] == pytest.approx([0.02, -0.06])


SWEEP_FILES = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.toml"))


@pytest.mark.parametrize("path", SWEEP_FILES, ids=[p.name for p in SWEEP_FILES])
def test_every_sweep_file_of_the_repository_loads(path):
    from lazyartist_cli.pipeline.sweep_file import load_sweep

    sweep = load_sweep(path)  # a stale key or value in any point is a ConfigError naming it
    assert len(SWEEP_FILES) >= 9 and sweep.points and all(p.config.train.name == p.name for p in sweep.points)


def test_reference_values_match_as_numbers():
    from lazyartist_cli.pipeline.sweep_reference import matches

    assert matches({"train.model_options": {"input_divisor": 255.0}, "seed": 0}, {"train.model_options": {"input_divisor": 255}})
    assert matches({"data.correlation": 1}, {"data.correlation": 1.0}) and not matches({"data.correlation": 0.95}, {"data.correlation": 0.99})
    assert not matches({"seed": 0}, {"train.select": "last"}) and not matches({"train.select": None}, {"train.select": "last"})


def test_labels_name_the_points_and_a_label_of_no_key_or_value_is_refused(tmp_path):
    from lazyartist_cli.errors import ConfigError
    from lazyartist_cli.pipeline.sweep_file import load_sweep
    from lazyartist_cli.pipeline.sweep_reference import point_label

    def sweep(labels: str):
        path = tmp_path / "s.toml"
        path.write_text('name = "lab"\n[set]\n"train.model" = "mlp"\n[axes]\n"train.strategy" = ["erm", "lff"]\n"data.correlation" = [0.95]\n'
                        '[[grid]]\n"train.strategy" = ["erm"]\n"train.model_options" = [{ input_divisor = 255 }]\n' + labels)
        return load_sweep(path)

    sw = sweep('[labels]\n"train.strategy" = { erm = "ERM" }\n"train.model_options" = { \'{"input_divisor": 255}\' = "x/255" }\n')
    names = [point_label(p.values, sw.spec.labels) for p in sw.points]
    assert names == ["ERM", "train.strategy=lff", "ERM, x/255"]
    assert point_label({"a": 1, "b": None}) == "a=1"  # no labels: every key=value of the point
    with pytest.raises(ConfigError, match="labels: 'train.lr' is not a key of the sweep's points"):
        sweep('[labels]\n"train.lr" = { "0.1" = "fast" }\n')
    with pytest.raises(ConfigError, match="labels.data.correlation: '0.9' is not one of its values"):
        sweep('[labels]\n"data.correlation" = { "0.9" = "10%" }\n')


def test_collect_writes_the_finished_points_and_lists_the_others_as_pending(base, tmp_path):
    path, runs, res = base
    out = fresh(tmp_path, runs)
    first = res["points"][0]["run"]
    shutil.copytree(runs / first, out / first)  # one point trained and evaluated, the others not
    r = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(out), "--json", "-q", "--collect"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert [p["status"] for p in got["points"]] == ["reused", "pending", "pending", "pending"] and got["collected"]
    assert got["points"][0]["test_hard"] == res["points"][0]["test_hard"]
    assert sorted(p.name for p in out.iterdir()) == sorted(["datasets", first, "sweeps"])  # nothing trained
    assert sum(g["n"] for g in got["summary"]["groups"]) == 1  # a pending point is in no mean
    assert got["invocations"] == []  # a collect records no invocation of its own
    r = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(out), "--json", "-q", "--only", "seed=0"])
    first_run = json.loads(r.stdout)["invocations"]
    assert len(first_run) == 1 and first_run[0]["trained"] == first_run[0]["points"] - 1  # the copied point reused
    again = json.loads(runner.invoke(app, ["sweep", str(path), "--runs-dir", str(out), "--json", "-q", "--collect"]).stdout)
    assert again["invocations"] == first_run  # kept across a later --collect
