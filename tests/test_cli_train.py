"""train / eval / counterfactual through the CLI on a small real-MNIST dataset."""

import json
import shutil

import pytest
import torch

from lazyartist_cli.precision import resolve_precision
from typer.testing import CliRunner

from lazyartist_cli.cli.app import app

runner = CliRunner()


def invoke(runs, *args):
    from lazyartist_cli.cli.common import REFUSED

    device = [] if "device" in REFUSED[args[0]] else ["--device", "cpu"]  # `lazy runs` refuses an option it would ignore
    return runner.invoke(app, [*args, "--runs-dir", str(runs), *device])



def assert_typed(path, kind: str) -> None:
    """A stored result document has the keys and top-level types of its typed dict (lazyartist_cli.results)."""
    from lazyartist_cli.results import RESULTS, result_problems

    doc = json.loads(path.read_text())
    assert doc["schema_version"] == 1 and result_problems(RESULTS[kind], doc) == []

def test_train_writes_the_run_and_learns_the_shortcut(trained):
    runs, out = trained
    run = runs / "base"
    for f in ("config.json", "history.jsonl", "curves.png", "best.pt", "last.pt"):
        assert (run / f).is_file(), f
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    assert out["best"]["val_acc"] == max(r["val_acc"] for r in history)
    # the lazy model is far better on easy than on hard data
    assert out["best"]["val_acc"] > 0.8 and out["best"]["hard_acc_monitor"] < out["best"]["val_acc"] - 0.4
    # the monitor of its bias-conflicting training images: they are what a lazy model does not fit
    assert all(r["train_conflicting_acc_monitor"] < r["train_acc"] - 0.3 for r in history)
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["config"]["train"]["strategy"] == "erm" and cfg["environment"]["device"] == "cpu"
    assert cfg["config"]["train"]["precision"] == "auto"  # as asked; the precision in force is an environment fact
    assert cfg["environment"]["precision"] == resolve_precision("auto", torch.device("cpu"))
    ckpt = torch.load(run / "best.pt", weights_only=True)
    assert ckpt["model_name"] == "lazy-cnn" and ckpt["epoch"] == out["best_epoch"]


def test_resume_gives_the_same_result_as_an_uninterrupted_run(trained):
    runs, _ = trained
    full = invoke(runs, "train", "--strategy", "consistency", "--epochs", "2", "--name", "full", "-q", "--json")
    assert full.exit_code == 0, full.output
    part = invoke(runs, "train", "--strategy", "consistency", "--epochs", "1", "--name", "part", "-q")
    assert part.exit_code == 0, part.output
    res = invoke(runs, "train", "--strategy", "consistency", "--epochs", "2", "--name", "part", "--resume", "-q", "--json")
    assert res.exit_code == 0, res.output
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("seconds", "images_per_second")} for r in rows]
    h_full = [json.loads(x) for x in (runs / "full/history.jsonl").read_text().splitlines()]
    h_part = [json.loads(x) for x in (runs / "part/history.jsonl").read_text().splitlines()]
    assert strip(h_full) == strip(h_part)
    a = torch.load(runs / "full/last.pt", weights_only=True)["model"]
    b = torch.load(runs / "part/last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_after_a_kill_between_the_last_checkpoint_and_the_history_completes_the_history(trained):
    """Killed after the final epoch's last.pt but before its history line: the resume has no epoch left to run and
    must still leave the whole history (else the study and sweep call the run partial forever)."""
    runs, _ = trained
    res = invoke(runs, "train", "--strategy", "erm", "--epochs", "1", "--name", "cut", "-q")
    assert res.exit_code == 0, res.output
    hist = runs / "cut" / "history.jsonl"
    whole = hist.read_text()
    assert len(whole.splitlines()) == 1
    hist.write_text("")  # the state such a kill leaves
    res = invoke(runs, "train", "--strategy", "erm", "--epochs", "1", "--name", "cut", "--resume", "-q")
    assert res.exit_code == 0, res.output
    assert hist.read_text() == whole


def test_eval_json_and_files(trained):
    runs, _ = trained
    res = invoke(runs, "eval", "base", "--json", "-q")
    assert res.exit_code == 0, res.output
    env = json.loads((runs / "base" / "environments.json").read_text())["eval"]  # where the analysis ran, apart from its results
    assert env["device"] == "cpu" and env["threads"] == torch.get_num_threads() and env["seed"] == 0
    assert env["torch_version"] == torch.__version__ and "environment" not in json.loads((runs / "base/eval/metrics.json").read_text())
    from lazyartist_cli.pipeline.common import record_environment
    from lazyartist_cli.pipeline.report.discussion import _analysis_environments

    for damaged in ("[1]", "{bad", '"x"'):  # a damaged record is started again, and the report skips it
        (runs / "base" / "environments.json").write_text(damaged)
        assert _analysis_environments(runs / "base" / "environments.json", "base") == []
        record_environment(runs / "base", "eval", torch.device("cpu"), 0)
        assert list(json.loads((runs / "base" / "environments.json").read_text())) == ["schema_version", "eval"]
    r = json.loads(res.stdout)["runs"]["base"]
    for split in ("train", "val", "test_easy", "test_hard"):
        assert 0.0 <= r[split] <= 1.0
    assert r["test_easy"] > r["test_hard"] + 0.3
    cm = torch.tensor(r["confusion"]["test_hard"])
    assert cm.sum() == 1000 and abs(cm.diag().sum().item() / 1000 - r["test_hard"]) < 1e-9
    assert abs(r["per_class"]["test_hard"]["3"] - cm[3, 3].item() / cm[3].sum().item()) < 1e-9
    assert len(r["failures"]) == 16 and all(f["label"] != f["predicted"] for f in r["failures"])
    for key in ("confusion_test_hard", "confusion_test_easy", "failures", "metrics"):
        assert (runs / "base" / "eval").joinpath(r["paths"][key].split("/")[-1]).is_file()
    assert r["color_reliance"]["solid_follows_palette"] >= 0.5


def test_counterfactual_baseline_follows_colour(trained):
    runs, _ = trained
    res = invoke(runs, "counterfactual", "base", "--json", "-q", "--set", "counterfactual.n_images=50")
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)["runs"]["base"]
    assert r["n_images"] == 50 and r["n_recolored"] == 450
    assert r["follows_new_color"] > 0.5 and len(r["paths"]["figures"]) == 4


def test_bad_inputs(trained, tmp_path):
    runs, _ = trained
    res = invoke(runs, "train", "--strategy", "erm", "--epochs", "1", "--name", "base")
    assert res.exit_code == 2 and "--resume" in res.output
    res = invoke(runs, "train", "--strategy", "erm", "--epochs", "4", "--name", "base", "--resume", "--set", "train.lr=0.5")
    assert res.exit_code == 2 and "different config" in res.output
    res = invoke(runs, "train", "--strategy", "nope")
    assert res.exit_code == 2 and "valid:" in res.output and "consistency" in res.output
    res = invoke(runs, "train", "--model", "vgg")
    assert res.exit_code == 2 and "lazy-cnn" in res.output
    res = invoke(runs, "train", "--name", "a/b")
    assert res.exit_code == 2 and "not allowed" in res.output
    res = invoke(tmp_path, "train", "--epochs", "1")
    assert res.exit_code == 1 and "make-data" in res.output
    res = invoke(runs, "eval", "missing-run")
    assert res.exit_code == 1 and "not found" in res.output
    shutil.copytree(runs / "base", runs / "broken")
    (runs / "broken/best.pt").write_bytes(b"not a checkpoint")
    res = invoke(runs, "eval", "broken")
    assert res.exit_code == 1 and "corrupted" in res.output and "Traceback" not in res.output
    shutil.copytree(runs / "datasets", tmp_path / "datasets")
    victim = tmp_path / "datasets/colored-mnist/train.pt"
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    res = invoke(tmp_path, "train", "--epochs", "1")
    assert res.exit_code == 1 and "does not match the hash" in res.output


def test_gradcam_and_probe_cli(trained):
    runs, _ = trained
    res = invoke(runs, "gradcam", "base", "--json", "-q", "--n-images", "10", "--set", "gradcam.n_scores=100",
                 "--set", "gradcam.color_share_images=20", "--set", "gradcam.smoothgrad_samples=4", "--set", "gradcam.ig_steps=4")
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)["runs"]["base"]
    assert r["layer"] == "act_c2" and r["scores"]["n"] == 100  # the rectified output of lazy-cnn's last convolution
    cs = json.loads((runs / "base/gradcam/color_share.json").read_text())
    assert set(cs["methods"]) == {"saliency", "smoothgrad", "ig", "gradcam-x-gradient"} and cs["n"] == 20
    for m in cs["methods"].values():
        assert len(m["per_image"]) == 20 and m["ci95"][0] <= m["mean"] <= m["ci95"][1]
    assert (runs / "base/gradcam/color_share.png").is_file()
    assert abs(sum(r["scores"]["proportions"].values()) - 1) < 1e-6
    for key in ("grid", "histogram", "biased_vs_conflicting"):
        assert (runs / "base/gradcam/gradcam").joinpath(r["paths"][key].split("/")[-1]).is_file()
    res = invoke(runs, "gradcam", "base", "--method", "ig", "-q", "--json", "--set", "gradcam.n_scores=20", "--n-images", "10")
    assert res.exit_code == 0, res.output
    res = invoke(runs, "probe", "base", "--json", "-q", "--steps", "5", "--set", "probe.n_units=3")
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)["runs"]["base"]
    assert r["layers"] == ["conv", "fc1", "fc2"] and len(r["units"]) == 9
    assert (runs / "base/probe/units.csv").read_text().count("\n") == 10
    assert_typed(runs / "base/probe/units.json", "probe/units.json")
    assert_typed(runs / "base/gradcam/color_share.json", "gradcam/color_share.json")
    from lazyartist_cli.results import GradcamSummary, result_problems
    assert result_problems(GradcamSummary, json.loads((runs / "base/gradcam/gradcam/summary.json").read_text())) == []


def test_interpret_bad_inputs(trained):
    runs, _ = trained
    res = invoke(runs, "gradcam", "base", "--layer", "nope")
    assert res.exit_code == 2 and "valid: conv" in res.output
    res = invoke(runs, "gradcam", "base", "--target-class", "12")
    assert res.exit_code == 2 and "gradcam.target_class" in res.output
    res = invoke(runs, "probe", "base", "--layer", "fc1", "--channels", "64")
    assert res.exit_code == 2 and "out of range" in res.output
    res = invoke(runs, "probe", "base", "--channels", "a,b")
    assert res.exit_code == 2
    (runs / "empty-run").mkdir(exist_ok=True)
    res = invoke(runs, "gradcam", "empty-run")
    assert res.exit_code == 1 and "checkpoint not found" in res.output


def test_attack_cli_and_bad_inputs(trained):
    runs, _ = trained
    res = invoke(runs, "attack", "base", "--json", "-q", "--set", "attack.n_images=12", "--set", "attack.sweep=[0.02, 0.05]",
                 "--steps", "10", "--set", "attack.pairs=[[7, 3], [0, 6]]", "--set", "attack.pair_images=10",
                 "--set", "attack.sweep_steps=5", "--set", "attack.pair_sweep=[0.02]")
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)["runs"]["base"]
    pairs = r["pairs"]
    assert r["precision"] == resolve_precision("auto", torch.device("cpu"))  # PGD's steps, as resolved here
    assert [(p["source"], p["target"]) for p in pairs["pairs"]] == [(7, 3), (0, 6)]
    assert pairs["sweep_eps"] == [0.02, 0.05] and pairs["pooled"]["n"] == 20
    for p in pairs["pairs"]:
        assert p["n"] == 10 and len(p["per_image"]) == 10 and p["ci95"][0] <= p["success"] <= p["ci95"][1]
        assert p["success"] == pytest.approx(sum(p["per_image"]) / 10) and p["sweep"][1] == pytest.approx(p["success"])  # eps 0.05 is in the sweep
    for m in ("fgsm", "pgd"):
        assert r["methods"][m]["n"] == 12 and r["methods"][m]["linf_mean"] <= 0.05 + 1e-6
    assert len(r["sweep"]["success"]["pgd"]) == 2
    assert (runs / "base/attack/summary.json").is_file()
    for args, field in ((["--eps", "0"], "attack.eps"), (["--eps", "1.5"], "attack.eps"),
                        (["--source", "3", "--target", "3"], "source_class"), (["--target", "10"], "attack.target_class")):
        res = invoke(runs, "attack", "base", *args)
        assert res.exit_code == 2 and field in res.output, (args, res.output)


def test_sae_cli_and_bad_inputs(trained):
    runs, _ = trained
    res = invoke(runs, "sae", "base", "--json", "-q", "--epochs", "3", "--set", "sae.n_features=20",
                 "--set", "sae.n_intervention_images=100")
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)["runs"]["base"]
    assert r["layer"] == "act2" and len(r["sweep"]) == 2 and r["chosen"]["meets"] in (True, False)
    assert (r["latents"], r["k"]) == (r["chosen"]["latents"], r["chosen"]["k"])  # the chosen sweep point is the SAE kept
    assert r["metrics"]["train_loss_last"] < r["metrics"]["train_loss_first"]
    assert set(r["group_ablation"]) <= {"colour/test_easy", "colour/test_hard", "shape/test_easy", "shape/test_hard"}
    assert (runs / "base/sae/sweep.png").is_file()
    assert len(r["features"]) == 20 and (runs / "base/sae/sae.pt").is_file()
    assert (runs / "base/sae/features.csv").read_text().count("\n") == 21
    assert_typed(runs / "base/sae/summary.json", "sae/summary.json")
    # the report's SAE section reads this real summary: every value it quotes is found
    from types import SimpleNamespace

    from lazyartist_cli.pipeline.report.loader import RunFiles
    from lazyartist_cli.pipeline.report.saes import _sae_section
    from lazyartist_cli.pipeline.report.writer import Writer

    w = Writer(runs, runs / "report")
    w.h(2, "7. Sparse autoencoders")
    _sae_section(w, [SimpleNamespace(name="base")], {"base": RunFiles(runs, "base", "gradcam")})
    text = "\n".join(w.lines)
    assert "each in all 10 colours" in text and " ? " not in text
    res = invoke(runs, "sae", "base", "--k", "100000")
    assert res.exit_code == 2 and "larger than the latent size" in res.output
    res = invoke(runs, "sae", "base", "--layer", "nope")
    assert res.exit_code == 2 and "valid:" in res.output


def test_selection_rule_never_reads_hard_data_and_is_stored(trained):
    runs, out = trained
    cfg = json.loads((runs / "base" / "config.json").read_text())["config"]
    assert cfg["train"]["select"] == "val" and out["best"]["rule"] == "val"  # erm knows nothing: auto -> val
    assert cfg["train"]["model_options"]["convs"] == 2  # the full design is stored
    res = invoke(runs, "train", "--strategy", "erm", "--epochs", "3", "--name", "sel-rc", "--select", "val-recolored",
                 "-q", "--json", "--set", "train.lr=0.004")
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)
    history = [json.loads(line) for line in (runs / "sel-rc" / "history.jsonl").read_text().splitlines()]
    best = max(history, key=lambda h: (h["val_recolored_acc"], h["val_acc"]))  # a tie goes to the higher easy val
    assert r["best"]["rule"] == "val-recolored" and r["best_epoch"] == best["epoch"]
    # the recoloured validation view differs from plain val: a colour-reading model scores lower on it
    assert best["val_recolored_acc"] < best["val_acc"] - 0.1
    res = invoke(runs, "train", "--strategy", "erm", "--epochs", "1", "--name", "bad", "--select", "test_hard")
    assert res.exit_code == 2 and "train.select" in res.output


def test_colorblind_oracle_trains_and_refuses_rgb_analyses(trained):
    runs, _ = trained
    res = invoke(runs, "train", "--strategy", "erm", "--input", "colorblind", "--epochs", "2", "-q", "--json",
                 "--set", "train.lr=0.004")
    assert res.exit_code == 0, res.output
    name = json.loads(res.stdout)["run"]
    assert name == "lazy-cnn-erm-oracle-s0"
    res = invoke(runs, "eval", name, "-q", "--json")
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)["runs"][name]
    assert abs(m["test_easy"] - m["test_hard"]) <= 0.01 and m["test_hard"] > 0.3
    res = invoke(runs, "counterfactual", name, "-q", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["runs"][name]["follows_new_color"] == 0.0
    res = invoke(runs, "attack", name, "-q")
    assert res.exit_code == 2 and "colour-blind oracle" in res.output


def test_runs_lists_every_run_with_its_accuracies_and_analyses(trained, tmp_path):
    runs, _ = trained
    assert invoke(runs, "eval", "base", "-q").exit_code == 0
    res = invoke(runs, "runs", "--json", "-q")
    assert res.exit_code == 0, res.output
    rows = {r["run"]: r for r in json.loads(res.stdout)["runs"]}
    m = json.loads((runs / "base" / "eval" / "metrics.json").read_text())
    assert rows["base"]["strategy"] == "erm" and rows["base"]["epochs"] == 4 and "eval" in rows["base"]["analyses"]
    assert rows["base"]["test_hard"] == m["test_hard"] and "datasets" not in rows
    res = invoke(tmp_path / "nope", "runs")
    assert res.exit_code == 1 and "does not exist" in res.output


def test_resume_refuses_to_change_the_training_precision(trained, tmp_path):
    runs, _ = trained
    copy = tmp_path / "runs"
    shutil.copytree(runs / "datasets", copy / "datasets")
    shutil.copytree(runs / "base", copy / "base")
    cfg_path = copy / "base" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    here = cfg["environment"]["precision"]
    cfg["environment"]["precision"] = "fp32" if here == "bf16" else "bf16"  # as if trained on other hardware
    cfg_path.write_text(json.dumps(cfg))
    res = invoke(copy, "train", "--strategy", "erm", "--epochs", "5", "--name", "base", "--set", "train.lr=0.004", "--resume")
    assert res.exit_code == 2 and "train.precision=" in res.output, res.output
    res = invoke(copy, "train", "--strategy", "erm", "--epochs", "5", "--name", "base", "--set", "train.lr=0.004", "--resume",
                 "-q", "--set", f"train.precision={cfg['environment']['precision']}")
    assert res.exit_code == 0, res.output  # the stored run's precision, asked for explicitly: it goes on


def test_a_run_that_fails_before_its_first_checkpoint_leaves_nothing(small_dataset, monkeypatch, tmp_path):
    from lazyartist_cli.strategies.erm import ERM

    runs = tmp_path / "runs"
    shutil.copytree(small_dataset / "datasets", runs / "datasets")

    def diverging(self, model, batch):  # a loss that is not finite from the first batch
        return model(batch["x"]).sum() * float("nan"), {}

    monkeypatch.setattr(ERM, "loss", diverging)
    res = CliRunner().invoke(app, ["train", "--runs-dir", str(runs), "--name", "diverges", "--epochs", "1", "--device", "cpu"])
    assert res.exit_code == 1 and "not finite" in res.output
    assert not (runs / "diverges").exists()  # no config-only run that a study or sweep would resume


def test_the_last_rule_keeps_the_final_epoch_and_gives_no_score_to_compare_by(trained):
    from lazyartist_cli.pipeline.selection import selection_score

    runs, out = trained
    res = invoke(runs, "train", "--strategy", "erm", "--epochs", "3", "--name", "sel-last", "--select", "last",
                 "-q", "--json", "--set", "train.lr=0.004")
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)
    assert r["best"]["rule"] == "last" and r["best_epoch"] == 3 and r["best"]["score"] == 3  # the epoch, not an accuracy
    assert selection_score(runs / "sel-last", 3) is None  # a sweep cannot rank rates by it
    base_history = [json.loads(line) for line in (runs / "base" / "history.jsonl").read_text().splitlines()]
    assert selection_score(runs / "base", out["best_epoch"]) == base_history[out["best_epoch"] - 1]["val_acc"]


def test_a_run_grows_its_budget_on_resume_but_never_shrinks_it_or_stretches_a_cosine_schedule(trained, tmp_path):
    from lazyartist_cli.pipeline.stored_config import budget_problem

    runs, _ = trained
    copy = tmp_path / "runs"
    shutil.copytree(runs / "datasets", copy / "datasets")
    shutil.copytree(runs / "base", copy / "base")
    res = invoke(copy, "train", "--strategy", "erm", "--epochs", "3", "--name", "base", "--set", "train.lr=0.004",
                 "--resume", "-q")
    assert res.exit_code == 2 and "trained 4 epochs, more than the 3 asked for" in res.output, res.output
    stored = {"train": {"epochs": 4}}
    assert budget_problem(stored, 4, 8, "constant") is None  # a constant rate: the first 4 epochs are those of 8
    assert "laid out over 4 epochs" in budget_problem(stored, 2, 8, "cosine")
    assert budget_problem(stored, 0, 8, "cosine") is None  # nothing trained yet
