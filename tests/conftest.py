import json
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _mnist_dir() -> Path | None:
    cand = os.environ.get("LAZY_MNIST_DIR") or str(ROOT.parent / "shared" / "data" / "mnist")
    p = Path(cand)
    return p if (p / "train-images-idx3-ubyte.gz").exists() or (p / "train-images-idx3-ubyte").exists() else None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    d = _mnist_dir()
    if d is None:
        pytest.skip("real MNIST not found (set LAZY_MNIST_DIR)")
    return d


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # never touch the user's cache or the network from tests
    monkeypatch.setenv("LAZY_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("LAZY_CONFIG", raising=False)
    monkeypatch.delenv("LAZY_RUNS_DIR", raising=False)


SMALL = [
    "--set", "data.n_train=3000", "--set", "data.n_val=1000", "--set", "data.n_test=1000",
]


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory, mnist_dir):
    """A small real-MNIST Colored-MNIST dataset built once through the CLI."""
    from typer.testing import CliRunner

    from lazyartist_cli.cli.app import app

    runs = tmp_path_factory.mktemp("runs")
    res = CliRunner().invoke(app, ["make-data", "--runs-dir", str(runs), "--mnist-dir", str(mnist_dir), "-q", *SMALL])
    assert res.exit_code == 0, res.output
    return runs


def invoke_cli(runs, *args):
    from typer.testing import CliRunner

    from lazyartist_cli.cli.app import app

    return CliRunner().invoke(app, [*args, "--runs-dir", str(runs), "--device", "cpu"])


def train_two_stage(small_dataset, tmp_path, strategy):
    """A 3-epoch run of ``strategy`` (T = 1) on the small dataset: (runs dir, history rows, stored config)."""
    import json

    runs = tmp_path / "runs"
    shutil.copytree(small_dataset / "datasets", runs / "datasets")
    res = invoke_cli(runs, "train", "--strategy", strategy, "--epochs", "3", "--name", "r", "-q")
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (runs / "r" / "history.jsonl").read_text().splitlines()]
    assert all(0.0 <= r["val_pseudo_group_acc"] <= 1.0 for r in rows)
    cfg = json.loads((runs / "r" / "config.json").read_text())["config"]
    assert cfg["train"]["select"] == "val-pseudo-group"
    assert invoke_cli(runs, "eval", "r", "-q").exit_code == 0
    return runs, rows, cfg


@pytest.fixture(scope="session")
def trained(small_dataset, tmp_path_factory):
    runs = tmp_path_factory.mktemp("trained")
    shutil.copytree(small_dataset / "datasets", runs / "datasets")
    res = invoke_cli(runs, "train", "--strategy", "erm", "--epochs", "4", "--name", "base", "-q", "--json",
                     "--set", "train.lr=0.004")
    assert res.exit_code == 0, res.output
    return runs, json.loads(res.stdout)




def pytest_collection_modifyitems(config, items):
    """Every test that needs real MNIST (through the `mnist_dir` fixture, directly or via a dataset or trained-run
    fixture) carries the `mnist` marker: `pytest -m "not mnist"` runs the offline unit tests alone."""
    for item in items:
        if "mnist_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mnist)
