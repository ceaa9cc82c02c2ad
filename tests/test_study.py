"""`lazy study` and `lazy report` on a tiny real-MNIST study: resumable, deterministic,
"not run" parts reported with their commands, --json sources that exist."""

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lazyartist_cli.cli.app import app
from lazyartist_cli.pipeline.report import TIMESTAMP_PREFIX

runner = CliRunner()

TINY = """
[data]
n_train = 2000
n_val = 500
n_test = 500
mnist_dir = "{mnist}"
[train]
epochs = 2
lr = 0.004
[study]
strategies = ["consistency"]
analyses = ["counterfactual", "attack"]
[counterfactual]
n_images = 40
n_figures = 1
[attack]
steps = 5
sweep = [0.05, 0.1]
sweep_steps = 3
n_figures = 1
"""

STORED = ["eval/metrics.json", "counterfactual/summary.json"]  # metrics files (history and checkpoints also hold wall times)


def tiny_config(tmp: Path, mnist_dir: Path) -> Path:
    path = tmp / "tiny.toml"
    path.write_text(TINY.format(mnist=mnist_dir))
    return path


def study(cfg: Path, runs: Path, *extra: str):
    res = runner.invoke(app, ["study", str(cfg), "--runs-dir", str(runs), "--device", "cpu", "-q", "--json", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def weights_digest(path: Path) -> str:
    """SHA-256 of a checkpoint's model weights (the file also holds wall times)."""
    import torch

    state = torch.load(path, weights_only=True)["model"]
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].cpu().numpy().tobytes())
    return h.hexdigest()


def snapshot(runs: Path, names: list[str]) -> dict[str, object]:
    """The metrics files' bytes and the best checkpoints' weights of the named runs."""
    out: dict[str, object] = {f"{n}/{f}": (runs / n / f).read_bytes() for n in names for f in STORED if (runs / n / f).exists()}
    out.update({f"{n}/best.pt": weights_digest(runs / n / "best.pt") for n in names})
    return out


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory, mnist_dir):
    tmp = tmp_path_factory.mktemp("study")
    cfg = tiny_config(tmp, mnist_dir)
    runs = tmp / "runs"
    out = study(cfg, runs)
    return cfg, runs, out


def test_study_trains_every_run_and_writes_the_report(tiny_study):
    cfg, runs, out = tiny_study
    assert out["runs"] == ["lazy-cnn-erm-s0", "lazy-cnn-consistency-s0", "lazy-cnn-erm-oracle-s0"]
    assert {s["status"] for s in out["steps"]} == {"ran"}
    assert [s["step"] for s in out["steps"]].count("attack") == 2  # first seed of baseline and strategy, not the oracle
    text = Path(out["report"]).read_text()
    for n in range(1, 9):
        assert f"## {n}. " in text
    assert "**oracle** (colour-blind)" in text
    # the oracle sees the same images on test_easy and test_hard (they differ only in colour)
    m = json.loads((runs / "lazy-cnn-erm-oracle-s0" / "eval" / "metrics.json").read_text())
    assert abs(m["test_easy"] - m["test_hard"]) <= 0.01
    assert "**Reference check.**" in text and "knows" in text and "val-recolored" in text
    assert not re.search(r"(^|\s)\?(\s|$)", text)  # no "?" stands in for a value the report failed to read
    assert re.search(r"\| analyses of `lazy-cnn-erm-s0` \| attack, counterfactual, eval: `cpu`, torch `[^`]+`, lazy `[^`]+` \|", text)
    summary = text[text.index("## 1. "):text.index("## 2. ")]
    assert "One seed per run, so no standard deviation" in summary and " ± " not in summary
    # analyses left out of the study are reported as not run, with the command
    assert "not run" in text and "lazy probe lazy-cnn-erm-s0 lazy-cnn-consistency-s0" in text
    # every image the report links exists, relative to the report
    for line in text.splitlines():
        if line.startswith("<img src="):
            rel = line.split('"')[1]
            assert (Path(out["report"]).parent / rel).is_file(), rel


def test_study_again_skips_everything_and_changes_nothing(tiny_study):
    cfg, runs, out = tiny_study
    before = snapshot(runs, out["runs"])
    again = study(cfg, runs)
    assert {s["status"] for s in again["steps"] if s["step"] != "report"} == {"up to date"}
    assert snapshot(runs, out["runs"]) == before


def test_more_seeds_reuse_the_first(tiny_study):
    cfg, runs, out = tiny_study
    before = snapshot(runs, out["runs"])
    first = json.loads((runs / "report" / "study.json").read_text())["invocations"]
    more = study(cfg, runs, "--seeds", "2")
    invocations = json.loads((runs / "report" / "study.json").read_text())["invocations"]
    assert invocations[:len(first)] == first and len(invocations) == len(first) + 1  # one entry per invocation
    last = invocations[-1]
    assert last["seeds"] == 2 and last["complete"] and last["ran"] == sum(s["status"] != "up to date" for s in more["steps"][:-1])
    assert last["report"] and 0 < last["seconds"] <= more["seconds"] + 0.1  # the whole invocation, its report included
    ran = {s["target"] for s in more["steps"] if s["step"] == "train" and s["status"] == "ran"}
    assert ran == {"lazy-cnn-erm-s1", "lazy-cnn-consistency-s1", "lazy-cnn-erm-oracle-s1"}
    assert snapshot(runs, out["runs"]) == before
    text = Path(more["report"]).read_text()
    assert "| `consistency` | robust | the generator | val-recolored | 0.004 | 2 |" in text and " ± " in text
    # the later seed is attacked too, on the pairs only, and the verdict is taken over both seeds
    attacked = {s["target"] for s in more["steps"] if s["step"] == "attack" and s["status"] == "ran"}
    assert attacked == {"lazy-cnn-erm-s1", "lazy-cnn-consistency-s1"}
    later = json.loads((runs / "lazy-cnn-consistency-s1" / "attack" / "summary.json").read_text())
    assert later["methods"] == {} and len(later["pairs"]["pairs"]) == 4
    assert "per strategy over the seeds whose runs were attacked" in text and "| `consistency` | 2 |" in text
    assert "2 seeds per strategy" in text
    headline = text[text.index("**Headline numbers:**"):text.index("## 2.")]
    assert re.search(r"baseline `erm` \(2 seeds\): easy test \d+\.\d ± \d+\.\d%, hard test \d+\.\d ± \d+\.\d%", headline)
    assert re.search(r"follow the new colour in \d+\.\d ± \d+\.\d% of cases", headline)
    assert "(mean ± std over 2 seeds)" in text  # the discussion's baseline numbers are over the seeds too
    assert "Mean ± sample std over seeds." in headline and "One seed per run" not in text
    numbers = json.loads(runner.invoke(app, ["report", "-c", str(cfg), "--runs-dir", str(runs), "--set", "study.seeds=2", "--json",
                                             "-q"]).stdout)["numbers"]
    mean = next(n for n in numbers if n["key"] == "baseline.test_hard_mean")
    assert mean["sources"] == ["lazy-cnn-erm-s0/eval/metrics.json", "lazy-cnn-erm-s1/eval/metrics.json"]
    per_seed = [json.loads((runs / x).read_text())["test_hard"] for x in mean["sources"]]
    assert mean["value"] == pytest.approx(sum(per_seed) / 2)


def test_report_twice_is_identical_but_for_the_timestamp_and_lists_sources(tiny_study):
    cfg, runs, _ = tiny_study
    texts = []
    for _ in range(2):
        res = runner.invoke(app, ["report", "-c", str(cfg), "--runs-dir", str(runs), "--json", "-q"])
        assert res.exit_code == 0, res.output
        payload = json.loads(res.stdout)
        texts.append(Path(payload["path"]).read_text().splitlines())
    a, b = texts
    differ = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    assert len(a) == len(b) and all(a[i].startswith(TIMESTAMP_PREFIX) for i in differ)
    assert [s["title"][:2] for s in payload["sections"]] == [f"{n}." for n in range(1, 9)]
    assert payload["numbers"] and all((runs / n["source"]).is_file() for n in payload["numbers"])
    assert all((runs / x).is_file() and n["source"] == n["sources"][0] for n in payload["numbers"] for x in n.get("sources", []))
    # a number in the report is the stored one
    first = next(n for n in payload["numbers"] if n["key"] == "baseline.test_hard")
    stored = json.loads((runs / first["source"]).read_text())["test_hard"]
    assert first["value"] == stored and f"{100 * stored:.1f}%" in "\n".join(a)


def test_report_locates_a_stored_figure_path_in_the_runs_dir_it_reads(tmp_path, monkeypatch):
    from lazyartist_cli.pipeline.report.writer import Writer

    runs = tmp_path / "new" / "runs"
    (runs / "r" / "eval").mkdir(parents=True)
    (runs / "r" / "eval" / "a.png").write_bytes(b"x")
    w = Writer(runs, runs / "report")
    assert w.locate(runs / "r" / "eval" / "a.png") == runs / "r" / "eval" / "a.png"  # where it was written
    assert w.locate("/gone/old/runs/r/eval/a.png") == runs / "r" / "eval" / "a.png"  # the directory moved
    monkeypatch.chdir(tmp_path)
    assert w.locate("runs/r/eval/a.png") == runs / "r" / "eval" / "a.png"  # relative to another working directory
    outside = tmp_path / "fig.png"
    outside.write_bytes(b"y")
    assert w.locate(outside) == outside  # a file outside the runs dir with no tail in it is used as stored
    (runs / "fig.png").write_bytes(b"z")
    assert w.locate(outside) == outside  # a bare file name is no run's path: never rebased
    assert w.locate("/gone/r/eval/b.png") is None and w.locate(None) is None


def test_a_copied_runs_dir_reports_its_own_figures(tiny_study, tmp_path):
    """Results store the absolute paths their commands wrote. A copy of the runs directory (rsync from a cluster, a
    backup) must link its own figures, not the original's, even while the original still exists."""

    cfg, runs, _ = tiny_study
    copy = tmp_path / "elsewhere" / "runs"
    shutil.copytree(runs, copy)
    for name in ("report", "elsewhere"):
        out_dir = copy / name
        res = runner.invoke(app, ["report", "-c", str(cfg), "--runs-dir", str(copy), "--set", f"report.dir={name}", "--json", "-q"])
        assert res.exit_code == 0, res.output
        text = Path(json.loads(res.stdout)["path"]).read_text()
        links = re.findall(r'<img src="([^"]+)"', text) + re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
        assert len(links) >= 5
        for rel in links:
            target = (out_dir / rel).resolve()
            assert target.is_file(), rel
            assert target.is_relative_to(copy.resolve()), rel


def test_same_study_twice_gives_identical_metrics(tiny_study, tmp_path):
    cfg, runs, out = tiny_study
    ref = snapshot(runs, out["runs"])
    moved = tmp_path / "first"
    shutil.move(str(runs), moved)  # rerun in the same place: stored paths are the same
    try:
        study(cfg, runs)
        assert snapshot(runs, out["runs"]) == ref
    finally:
        shutil.rmtree(runs, ignore_errors=True)
        shutil.move(str(moved), runs)


def test_one_process_and_worker_processes_give_identical_metrics(tiny_study, tmp_path):
    """The fixture ran with study.workers = 0 (auto: one process per core, each with cores / workers threads);
    in one process, in another order, with the workers' thread count, every stored metric and weight is the
    same: each step seeds itself. (Float reductions depend on the thread count, which each run's
    environment records: a 2-thread run differs from a 1-thread one in the last bits, and training grows that.)"""
    import torch

    from lazyartist_cli.pipeline.study import job_threads

    cfg, runs, out = tiny_study
    ref = snapshot(runs, out["runs"])
    moved = tmp_path / "first"
    shutil.move(str(runs), moved)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(job_threads(out["workers"]))
        study(cfg, runs, "--set", "study.workers=1")
        assert snapshot(runs, out["runs"]) == ref
        env = json.loads((runs / out["runs"][0] / "config.json").read_text())["environment"]
        assert env["threads"] == job_threads(out["workers"])
    finally:
        torch.set_num_threads(threads)
        shutil.rmtree(runs, ignore_errors=True)
        shutil.move(str(moved), runs)


def test_report_on_nothing_says_not_run(tmp_path, mnist_dir):
    cfg = tiny_config(tmp_path, mnist_dir)
    (tmp_path / "runs").mkdir()  # an empty runs dir (a missing one is an error: tests/test_bad_inputs.py)
    res = runner.invoke(app, ["report", "-c", str(cfg), "--runs-dir", str(tmp_path / "runs"), "--json", "-q"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    text = Path(payload["path"]).read_text()
    assert "Traceback" not in text and "error" not in text.lower()
    assert text.count("not run") >= 6 and "lazy make-data" in text
    assert sum(len(s["not_run"]) for s in payload["sections"]) >= 6


def test_frontier_verdict_splits_lazy_designs_and_measures_gap_to_oracle():
    from lazyartist_cli.pipeline.report import frontier_verdict

    def row(design, role, hard):
        return {"design": design, "role": role, "test_hard": hard}

    summary = [row("a", "erm", 0.10), row("a", "oracle", 0.90), row("a", "consistency", 0.80),
               row("b", "erm", 0.60), row("b", "oracle", 0.98), row("b", "consistency", 0.95)]
    lines = frontier_verdict(summary)
    assert lines[0] == "- ERM is lazy (hard < 20%) on 1 of 2 designs: `a`."
    assert "hard 90.0-90.0%" in lines[1]
    assert lines[2] == "- `consistency` on the lazy designs: best hard 80.0% (`a`), 10.0-10.0 points below that design's oracle."
    assert "best hard 95.0% (`b`), 3.0-3.0 points" in lines[4]


def test_extra_runs_share_a_row_only_when_their_configs_agree_but_for_the_seed(tmp_path):
    from lazyartist_cli.config import load_config
    from lazyartist_cli.pipeline.report import _other_runs
    from lazyartist_cli.pipeline.stored_config import resolved_config
    from lazyartist_cli.runs import write_json_atomic

    def fake(name, seed, **over):
        cfg = load_config(None, {"seed": seed, "train.name": name, "train.strategy": "lff", **over})
        write_json_atomic(tmp_path / name / "config.json", {"config": resolved_config(cfg)})
        write_json_atomic(tmp_path / name / "eval" / "metrics.json", {"val": 0.5})

    fake("lff-s0", 0)
    fake("lff-s1", 1)
    fake("lff-long-s0", 0, **{"train.epochs": 30})
    fake("frontier-x-erm-s0", 0)  # has its own section
    fake("grid-lr_0.1-seed_0", 0)  # a sweep's point: the sweep's section shows it
    (tmp_path / "sweeps" / "grid").mkdir(parents=True)
    cfg = load_config(None, {})
    labels = {sp.name: sp.strategy for sp, _ in _other_runs(cfg, tmp_path, set(), "gradcam")}
    assert set(labels) == {"lff-s0", "lff-s1", "lff-long-s0"}
    assert labels["lff-s0"] == labels["lff-s1"] != labels["lff-long-s0"]
    assert labels["lff-long-s0"] == "lff (lff-long-s0)"


def test_every_stored_result_matches_its_typed_dict(tiny_study):
    """The result documents the study stored (here eval, counterfactual and attack)
    have exactly the keys and top-level types of ``lazyartist_cli.results`` (test_cli_train checks the others)."""
    from lazyartist_cli.results import RESULTS, GradcamSummary, result_problems
    from lazyartist_cli.runs import upgrade

    _, runs, _ = tiny_study
    seen = set()
    for d in sorted(p for p in runs.iterdir() if (p / "config.json").is_file()):
        docs = [(rel, kind, d / rel) for rel, kind in RESULTS.items()]
        docs += [(str(p.relative_to(d)), GradcamSummary, p) for p in d.glob("gradcam/*/summary.json")]
        for rel, kind, path in docs:
            if path.is_file():
                doc = json.loads(path.read_text())
                assert doc["schema_version"] == 1, rel
                assert result_problems(kind, upgrade(doc)) == [], (d.name, rel)
                seen.add(kind)
    assert seen >= {RESULTS["eval/metrics.json"], RESULTS["counterfactual/summary.json"], RESULTS["attack/summary.json"]}


def test_frontier_tables_say_when_their_runs_trained_on_another_dataset():
    from lazyartist_cli.pipeline.report.frontier import _frontier_dataset

    assert "earlier build" in _frontier_dataset({}, "abc")  # tables made before they recorded their dataset
    same = {"dataset": {"name": "colored-mnist", "fingerprint": "abc", "assignment": "exact"}}
    assert _frontier_dataset(same, "abc") == ""
    other = {"dataset": {"name": "colored-mnist", "fingerprint": "old", "assignment": "bernoulli"}}
    assert "another build" in _frontier_dataset(other, "abc") and "bernoulli" in _frontier_dataset(other, "abc")


def test_parallel_study_notes_a_failed_job_and_cancels_what_is_queued():
    from concurrent.futures import Future

    from lazyartist_cli.pipeline.study import _drain

    failed, queued = Future(), Future()
    failed.set_exception(ValueError("boom"))
    pending = {failed: ("train", "a", "absent"), queued: ("analyses", "b", None)}
    notes: list[str] = []

    class Notes:
        def note(self, message):
            notes.append(message)

        def update(self, *args, **kwargs):
            pass

    analysed: list[str] = []
    with pytest.raises(ValueError, match="boom"):
        _drain(pending, analysed.append, lambda *a: None, Notes(), 0.0)
    assert queued.cancelled() and not pending and not analysed and "a" in notes[0] and "failed: boom" in notes[0]


def test_a_study_that_fails_records_the_steps_that_finished(tiny_study, tmp_path, monkeypatch):
    import lazyartist_cli.pipeline.study as study_mod
    from lazyartist_cli.errors import LazyError

    cfg, runs, _ = tiny_study
    fresh = tmp_path / "runs"
    shutil.copytree(runs / "datasets", fresh / "datasets")

    def failing(step, *args, **kwargs):
        raise LazyError(f"{step}: boom")

    monkeypatch.setattr(study_mod, "_analyse", failing)  # one process: the trainings run, the first analysis fails
    res = runner.invoke(app, ["study", str(cfg), "--runs-dir", str(fresh), "--device", "cpu", "-q", "--set", "study.workers=1"])
    assert res.exit_code == 1 and "boom" in res.output
    rec = json.loads((fresh / "report" / "study.json").read_text())
    assert rec["complete"] is False
    trained = [s for s in rec["steps"] if s["step"] == "train"]
    assert len(trained) == 3 and all(s["status"] == "ran" and s["compute_seconds"] > 0 for s in trained)
    assert not any(s["step"] in ("eval", "attack") for s in rec["steps"])
    rep = runner.invoke(app, ["report", "-c", str(cfg), "--runs-dir", str(fresh), "-q"])  # a report of what exists
    assert rep.exit_code == 0, rep.output
    assert "counts only the steps that finished" in (fresh / "report" / "REPORT.md").read_text()


def test_study_analysed_limits_the_per_model_analyses_and_the_report_says_so(tiny_study, tmp_path):
    from lazyartist_cli.config import load_config
    from lazyartist_cli.pipeline.plan import analysis_plan

    cfg, runs, _ = tiny_study
    conf = load_config(cfg, {"study.analysed": ["erm"], "study.seeds": 2})
    plan = {(p.analysis.name, p.runs) for p in analysis_plan(conf)}
    assert ("attack", ("lazy-cnn-erm-s0",)) in plan and ("attack", ("lazy-cnn-erm-s1",)) in plan  # the later seeds' pairs too
    assert not any("consistency" in run for name, names in plan if name == "attack" for run in names)
    assert any(name == "counterfactual" and "lazy-cnn-consistency-s0" in names for name, names in plan)  # every run still
    fresh = tmp_path / "runs"
    shutil.copytree(runs, fresh)
    shutil.rmtree(fresh / "lazy-cnn-consistency-s0" / "attack")  # as if the study had been run with analysed = ["erm"]
    rep = runner.invoke(app, ["report", "-c", str(cfg), "--runs-dir", str(fresh), "-q", "--set", 'study.analysed=["erm"]'])
    assert rep.exit_code == 0, rep.output
    text = (fresh / "report" / "REPORT.md").read_text()
    assert "look only at `erm` (`study.analysed`); `consistency` has eval and counterfactual only" in text
    assert "lazy-cnn-consistency-s0: not run" not in text  # not a missing part: left out on purpose
    full = runner.invoke(app, ["report", "-c", str(cfg), "--runs-dir", str(fresh), "-q"])
    assert full.exit_code == 0 and "attack on lazy-cnn-consistency-s0: not run" in (fresh / "report" / "REPORT.md").read_text()
    for value, message in [('["lff"]', "study.analysed: 'lff' is not in the study"),
                           ('["consistency"]', "study.analysed: must include the baseline 'erm'"),
                           ('["erm", "erm"]', "study.analysed: 'erm' is listed twice")]:
        bad = runner.invoke(app, ["study", str(cfg), "--runs-dir", str(fresh), "-q", "--set", f"study.analysed={value}"])
        assert bad.exit_code == 2 and message in bad.output, bad.output


def test_parallel_study_keeps_the_analyses_that_finished_before_one_failed():
    from concurrent.futures import Future

    from lazyartist_cli.errors import LazyError
    from lazyartist_cli.pipeline.study import _drain

    partial, queued = Future(), Future()
    err = LazyError("attack: boom")
    err.finished_steps = [("eval", "ran", 2.5)]  # what _analysis_job attaches before raising
    partial.set_exception(err)
    pending = {partial: ("analyses", "b", None), queued: ("analyses", "c", None)}
    recorded: list[tuple] = []

    class Notes:
        def note(self, message):
            self.last = message

        def update(self, *args, **kwargs):
            pass

    notes = Notes()
    with pytest.raises(LazyError, match="attack: boom"):
        _drain(pending, lambda name: None, lambda *a: recorded.append(a[:3] + a[4:]), notes, 0.0)
    assert recorded == [("eval", "b", "ran", 2.5)] and queued.cancelled() and "failed: attack: boom" in notes.last


def test_a_partial_study_record_keeps_the_steps_it_did_not_reach(tmp_path):
    from lazyartist_cli.pipeline.study import _write_record

    path = tmp_path / "study.json"
    old = [{"step": "train", "target": "a", "status": "ran", "seconds": 9.0, "compute_seconds": 9.0},
           {"step": "sae", "target": "a", "status": "ran", "seconds": 4.0, "compute_seconds": 4.0}]
    path.write_text(json.dumps({"steps": old}))
    _write_record(path, [{"step": "train", "target": "a", "status": "up to date", "seconds": 0.0}], 0.0, 1, complete=False)
    rec = json.loads(path.read_text())
    assert rec["complete"] is False and [(s["step"], s["compute_seconds"]) for s in rec["steps"]] == [("train", 9.0), ("sae", 4.0)]
    _write_record(path, [{"step": "train", "target": "a", "status": "up to date", "seconds": 0.0}], 0.0, 1, complete=True)
    rec = json.loads(path.read_text())  # a complete study records what it planned, nothing else
    assert rec["complete"] is True and [(s["step"], s["compute_seconds"]) for s in rec["steps"]] == [("train", 9.0)]


def test_an_analysis_job_error_carries_the_steps_that_finished_through_pickling(monkeypatch, tmp_path):
    import pickle

    import lazyartist_cli.pipeline.study as study_mod
    from lazyartist_cli.errors import LazyError

    def analyse(step, *args):
        if step == "attack":
            raise LazyError("attack: boom")
        return "ran"

    monkeypatch.setattr(study_mod, "_analyse", analyse)
    items = [("eval", None, {}, tmp_path / "e"), ("attack", None, {}, tmp_path / "a"), ("sae", None, {}, tmp_path / "s")]
    with pytest.raises(LazyError) as info:
        study_mod._analysis_job(items, tmp_path, "run", 0, None)
    sent = pickle.loads(pickle.dumps(info.value))  # as a worker process hands it to the parent
    assert [s for s, _, _ in sent.finished_steps] == ["eval"] and str(sent) == "attack: boom"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_export_keeps_the_compact_results_and_report_rebuilds_every_number_from_them(tiny_study, tmp_path):
    """`lazy export` copies what the report reads and nothing heavy; `lazy report --results` from that copy alone
    prints every number the report of the full runs directory prints, and writes nothing into the copy."""
    cfg, runs, _ = tiny_study
    results = tmp_path / "results"
    res = runner.invoke(app, ["export", str(results), "--runs-dir", str(runs), "--json", "-q"])
    assert res.exit_code == 0, res.output
    copied = _tree(results)
    assert copied and not [p for p in copied if p.endswith((".pt", ".png", ".csv"))]
    for rel, data in copied.items():  # byte-identical copies
        assert (runs / rel).read_bytes() == data, rel
    assert "report/study.json" in copied and any(p.endswith("eval/metrics.json") for p in copied)

    def numbers(*args: str) -> dict[str, float]:
        out = runner.invoke(app, ["report", "-c", str(cfg), "--json", "-q", *args])
        assert out.exit_code == 0, out.output
        return {n["key"]: n["value"] for n in json.loads(out.stdout)["numbers"]}

    full = numbers("--runs-dir", str(runs))
    compact = numbers("--runs-dir", str(tmp_path / "elsewhere"), "--results", str(results))
    assert full and compact == full
    assert _tree(results) == copied  # the committed folder is read, never written
    assert (tmp_path / "elsewhere" / "report" / "REPORT.md").is_file()

    again = runner.invoke(app, ["export", str(results), "--runs-dir", str(runs), "-q"])  # a second export replaces, same bytes
    assert again.exit_code == 0 and _tree(results) == copied
    bad = runner.invoke(app, ["export", str(runs / "inside"), "--runs-dir", str(runs)])
    assert bad.exit_code == 2 and "inside the runs directory" in bad.output


def test_blocks_render_from_results_and_check_finds_a_stale_one(tiny_study, tmp_path):
    from lazyartist_cli.errors import UsageError
    from lazyartist_cli.pipeline.report.blocks import Source, refresh_file

    cfg, runs, _ = tiny_study
    results = tmp_path / "results"
    assert runner.invoke(app, ["export", str(results), "--runs-dir", str(runs), "-q"]).exit_code == 0
    src = {"": Source(results, cfg, "results", "lazy study tiny.toml")}
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- lazy:study-headline -->\nstale\n<!-- /lazy:study-headline -->\n"
                   "<!-- lazy:study-time -->\n<!-- /lazy:study-time -->\n<!-- lazy:sweep:absent -->\n<!-- /lazy:sweep:absent -->\nend\n")
    assert refresh_file(doc, src, check=True) == ["study-headline", "study-time", "sweep:absent"]
    assert "stale" in doc.read_text()  # check writes nothing
    assert refresh_file(doc, src) == ["study-headline", "study-time", "sweep:absent"]
    text = doc.read_text()
    hard = [json.loads((d / "eval" / "metrics.json").read_text())["test_hard"] for d in runs.glob("lazy-cnn-erm-s*")]
    assert hard and f"hard test {100 * sum(hard) / len(hard):.1f}" in text  # the mean over the seeds other tests added
    assert "| baseline `erm`: plain cross-entropy |" in text and "epochs of its baseline" in text
    assert "wall time for `lazy study tiny.toml`, which ran " in text  # the fixture's invocation, its report included
    assert "No results of sweep `absent`" in text and text.startswith("intro\n") and text.endswith("end\n")
    assert refresh_file(doc, src, check=True) == []
    doc.write_text("<!-- lazy:nope -->\n<!-- /lazy:nope -->\n")
    with pytest.raises(UsageError, match="unknown block 'nope'"):
        refresh_file(doc, src, check=True)
    doc.write_text("<!-- lazy:study-time@other -->\n<!-- /lazy:study-time@other -->\n")
    with pytest.raises(UsageError, match="unknown results source 'other'"):
        refresh_file(doc, src, check=True)
