"""A corpus of bad inputs across the subcommands: each gets the documented exit code
(2 usage, 1 runtime), one clear error line naming the problem, a JSON error object
with --json, and never a traceback."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from lazyartist_cli.cli.app import app

runner = CliRunner()


@pytest.fixture(scope="module")
def corpus(trained, tmp_path_factory):
    runs, _ = trained
    d = tmp_path_factory.mktemp("corpus")
    files = {
        "runs": runs,
        "empty": d / "empty-runs",
        "malformed": d / "malformed.toml",
        "wrongtype": d / "wrongtype.toml",
        "unknownkey": d / "unknownkey.toml",
        "unknownsection": d / "unknownsection.toml",
        "badstrategyopt": d / "badstrategyopt.toml",
        "notutf8": d / "notutf8.toml",
        "missing": d / "missing.toml",
        "afile": d / "afile",
        "corrupt": d / "corrupt-runs",
    }
    files["malformed"].write_text("[data\ncorrelation = 0.9\n")
    files["wrongtype"].write_text('[train]\nepochs = "many"\n')
    files["unknownkey"].write_text("[train]\nepochz = 3\n")
    files["unknownsection"].write_text("[trian]\nepochs = 3\n")
    files["badstrategyopt"].write_text("[strategy.consistency]\nops = ['permute', 'blur']\n")
    files["notutf8"].write_bytes(b"[data]\nname = '\xff\xfe'\n")
    files["afile"].write_text("not a directory")
    # a runs dir with a damaged checkpoint, a truncated history-less run and a corrupted dataset split
    corrupt = files["corrupt"]
    shutil.copytree(runs / "datasets", corrupt / "datasets")
    shutil.copytree(runs / "base", corrupt / "badckpt")
    (corrupt / "badckpt" / "best.pt").write_bytes(b"PK\x03\x04 truncated")
    shutil.copytree(runs / "base", corrupt / "notours")
    import torch

    torch.save({"weights": torch.zeros(3)}, corrupt / "notours" / "best.pt")
    # a colour-blind oracle run: the RGB analyses refuse it (its checkpoint says input = colorblind)
    shutil.copytree(runs / "base", corrupt / "blind")
    ck = torch.load(corrupt / "blind" / "best.pt", weights_only=True)
    ck["input"] = "colorblind"
    torch.save(ck, corrupt / "blind" / "best.pt")
    victim = corrupt / "datasets" / "colored-mnist" / "val.pt"
    victim.write_bytes(victim.read_bytes()[:-16] + b"0" * 16)
    (corrupt / "datasets" / "colored-mnist" / "metadata.json").write_text(
        (runs / "datasets" / "colored-mnist" / "metadata.json").read_text())
    return files


# (id, argument template, exit code, fragment of the error line)
CASES = [
    ("malformed-toml", ["make-data", "-c", "{malformed}"], 2, "malformed TOML"),
    ("toml-wrong-type", ["train", "-c", "{wrongtype}"], 2, "train.epochs"),
    ("toml-unknown-key", ["train", "-c", "{unknownkey}"], 2, "train.epochz"),
    ("toml-unknown-section", ["eval", "base", "-c", "{unknownsection}"], 2, "trian"),
    ("toml-bad-strategy-option", ["train", "--strategy", "consistency", "-c", "{badstrategyopt}"], 2, "strategy.consistency.ops"),
    ("toml-not-utf8", ["make-data", "-c", "{notutf8}"], 2, "{notutf8}"),
    ("missing-run-file", ["make-data", "-c", "{missing}"], 2, "not found"),
    ("set-without-equals", ["make-data", "--set", "data.correlation"], 2, "KEY=VALUE"),
    ("set-unknown-key", ["make-data", "--set", "data.colour=red"], 2, "data.colour"),
    ("correlation-above-1", ["make-data", "--set", "data.correlation=1.5"], 2, "data.correlation"),
    ("correlation-negative", ["make-data", "--set", "data.correlation=-0.1"], 2, "data.correlation"),
    ("n-train-too-large", ["make-data", "--set", "data.n_train=70000"], 2, "n_train"),
    ("unknown-colour", ["make-data", "--set", 'data.palette=["red","green","blue","yellow","magenta","cyan","orange","purple","pink","mauve"]'], 2, "mauve"),
    ("duplicate-colour", ["make-data", "--set", 'data.palette=["red","red","blue","yellow","magenta","cyan","orange","purple","pink","brown"]'], 2, "red"),
    ("negative-seed", ["make-data", "--seed", "-1"], 2, "seed"),
    ("unknown-device", ["eval", "base", "--device", "tpu"], 2, "--device"),
    ("hostile-run-name", ["train", "--name", "../x"], 2, "not allowed"),
    ("hostile-dataset-name", ["make-data", "--name", "../../etc"], 2, "not allowed"),
    ("reserved-run-name", ["train", "--name", "datasets"], 2, "reserved"),
    ("unknown-strategy", ["train", "--strategy", "magic"], 2, "valid:"),
    ("unknown-model", ["train", "--model", "vgg16"], 2, "lazy-cnn"),
    ("zero-epochs", ["train", "--epochs", "0"], 2, "train.epochs"),
    ("run-exists", ["train", "--name", "base", "--epochs", "4", "--set", "train.lr=0.004"], 2, "--resume"),
    ("resume-missing", ["train", "--name", "never-trained", "--resume"], 2, "does not exist"),
    ("missing-run", ["eval", "no-such-run"], 1, "not found"),
    ("corrupted-checkpoint", ["eval", "badckpt", "--runs-dir", "{corrupt}"], 1, "corrupted"),
    ("foreign-checkpoint", ["eval", "notours", "--runs-dir", "{corrupt}"], 1, "not a lazy checkpoint"),
    ("corrupted-dataset-train", ["train", "--name", "x", "--epochs", "1", "--runs-dir", "{corrupt}"], 1, "does not match the hash"),
    ("corrupted-dataset-verify", ["verify-data", "--runs-dir", "{corrupt}"], 1, "val: sha256"),
    ("no-dataset", ["train", "--epochs", "1", "--runs-dir", "{empty}"], 1, "make-data"),
    ("runs-dir-is-a-file", ["make-data", "--runs-dir", "{afile}"], 1, "cannot write"),
    ("mnist-dir-missing", ["make-data", "--runs-dir", "{empty}", "--mnist-dir", "{empty}/nope", "--set", "data.download=false"], 1, "three ways"),
    ("unknown-layer", ["gradcam", "base", "--layer", "conv9"], 2, "valid:"),
    ("unknown-gradcam-method", ["gradcam", "base", "--method", "lime"], 2, "gradcam.method"),
    ("bad-channels", ["probe", "base", "--channels", "1,x"], 2, "--channels"),
    ("attack-eps-out-of-range", ["attack", "base", "--eps", "2"], 2, "attack.eps"),
    ("attack-source-is-target", ["attack", "base", "--source", "3", "--target", "3"], 2, "two classes"),
    ("sae-unknown-kind", ["sae", "base", "--kind", "dense"], 2, "sae.kind"),
    ("study-unknown-strategy", ["study", "--set", 'study.strategies=["consistency","magic"]'], 2, "magic"),
    ("study-unknown-analysis", ["study", "--set", 'study.analyses=["tsne"]'], 2, "tsne"),
    ("study-zero-seeds", ["study", "--seeds", "0"], 2, "study.seeds"),
    ("report-hostile-dir", ["report", "--set", "report.dir=../out"], 2, "not allowed"),
    ("study-file-twice", ["study", "{malformed}", "-c", "{wrongtype}"], 2, "once"),
    ("report-no-runs-dir", ["report", "--runs-dir", "{empty}/no/such/dir"], 1, "does not exist"),
    ("unknown-model-option", ["train", "--set", "train.model_options.colour=1"], 2, "model_options.colour"),
    ("bad-selection-rule", ["train", "--select", "test_hard"], 2, "train.select"),
    ("unknown-input", ["train", "--input", "sepia"], 2, "train.input"),
    ("oracle-not-for-attacks", ["attack", "blind", "--runs-dir", "{corrupt}"], 2, "colour-blind oracle"),
    ("attack-pair-equal", ["attack", "base", "--set", "attack.pairs=[[7, 3], [4, 4]]"], 2, "pair 4 -> 4"),
    ("attack-pair-out-of-range", ["attack", "base", "--set", "attack.pairs=[[7, 12]]"], 2, "classes must be 0-9"),
    ("unknown-attribution-component", ["gradcam", "base", "--set", 'gradcam.color_methods=["hue"]'], 2, "gradcam.color_methods"),
]


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 30 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(corpus, case):
    _, template, code, fragment = case
    fill = {k: str(v) for k, v in corpus.items()}
    args = [a.format(**fill) for a in template]
    if "--runs-dir" not in args:
        args += ["--runs-dir", fill["runs"]]
    before = sorted(p.name for p in corpus["runs"].iterdir())
    res = runner.invoke(app, [*args, "--json"])
    out = res.output
    assert res.exit_code == code, out
    assert "Traceback" not in out, out
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert errors and any(fragment.format(**fill) in line for line in errors), out
    payload = json.loads(res.stdout.strip().splitlines()[-1])
    assert payload["ok"] is False and payload["exit_code"] == code
    assert sorted(p.name for p in corpus["runs"].iterdir()) == before  # nothing created or removed
