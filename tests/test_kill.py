"""Kill tests: `make-data`, `train` and `study` are SIGKILLed at seeded random points and
restarted. Nothing half-written is ever trusted (a dataset is complete or absent,
a checkpoint loads or is absent) and the restarted work ends with the same bytes
as an uninterrupted run."""

import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.test_study import snapshot, tiny_config

SMALL = ["--set", "data.n_train=3000", "--set", "data.n_val=1000", "--set", "data.n_test=1000"]


def lazy(*args: str, kill_after: float | None = None) -> int:
    """Run `python -m lazyartist_cli ARGS`; with kill_after, SIGKILL it after that many seconds.
    Returns the exit status (-SIGKILL when it was killed)."""
    proc = subprocess.Popen([sys.executable, "-m", "lazyartist_cli", *args, "-q"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONHASHSEED": "0"})
    if kill_after is None:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()
        return 0
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return proc.returncode


def timed_run(*args: str) -> float:
    t0 = time.perf_counter()
    lazy(*args)
    return time.perf_counter() - t0


def files_of(root: Path, rel: list[str]) -> dict[str, bytes]:
    return {r: (root / r).read_bytes() for r in rel if (root / r).is_file()}


def test_make_data_killed_anywhere_then_rerun(tmp_path, mnist_dir):
    ref = tmp_path / "ref"
    full = timed_run("make-data", "--runs-dir", str(ref), "--mnist-dir", str(mnist_dir), *SMALL)
    names = ["train.pt", "val.pt", "test_easy.pt", "test_hard.pt", "metadata.json"]
    want = files_of(ref / "datasets" / "colored-mnist", names[:-1])
    rng = random.Random(0)
    killed = 0
    for trial in range(3):
        runs = tmp_path / f"k{trial}"
        rc = lazy("make-data", "--runs-dir", str(runs), "--mnist-dir", str(mnist_dir), *SMALL, kill_after=rng.uniform(0.3, 0.8 * full))
        killed += rc == -signal.SIGKILL
        ds = runs / "datasets" / "colored-mnist"
        if (ds / "metadata.json").is_file():  # complete: every split is there and matches
            assert files_of(ds, names[:-1]) == want
        else:  # not complete: nothing under the final name
            assert not ds.exists()
        lazy("make-data", "--runs-dir", str(runs), "--mnist-dir", str(mnist_dir), *SMALL)
        assert files_of(ds, names[:-1]) == want
        lazy("verify-data", "--runs-dir", str(runs))
    assert killed  # at least one trial was really cut off


def test_train_killed_anywhere_then_resumed(tmp_path, small_dataset):
    ref = tmp_path / "ref"
    shutil.copytree(small_dataset / "datasets", ref / "datasets")
    args = ["train", "--epochs", "3", "--name", "k", "--device", "cpu"]
    full = timed_run(*args, "--runs-dir", str(ref))
    want = torch.load(ref / "k" / "last.pt", weights_only=True)["model"]
    env = json.loads((ref / "k" / "config.json").read_text())["environment"]
    glibc = platform.libc_ver()[0] == "glibc" and os.environ.get("LAZY_MALLOC", "") not in ("default", "off")
    assert env["allocator"] == ("tuned" if glibc else "default")  # every `lazy` process tunes malloc first
    rng = random.Random(1)
    killed = 0
    for trial in range(2):
        runs = tmp_path / f"k{trial}"
        shutil.copytree(small_dataset / "datasets", runs / "datasets")
        killed += lazy(*args, "--runs-dir", str(runs), kill_after=rng.uniform(2.0, 0.8 * full)) == -signal.SIGKILL
        run = runs / "k"
        for ckpt in ("best.pt", "last.pt"):  # whatever is there loads
            if (run / ckpt).exists():
                torch.load(run / ckpt, weights_only=True)
        resume = ["--resume"] if (run / "config.json").is_file() else []
        lazy(*args, "--runs-dir", str(runs), *resume)
        got = torch.load(run / "last.pt", weights_only=True)["model"]
        assert all(torch.equal(want[k], got[k]) for k in want)
    assert killed


def test_study_killed_anywhere_then_rerun(tmp_path, mnist_dir):
    cfg = tiny_config(tmp_path, mnist_dir)
    runs = tmp_path / "runs"
    full = timed_run("study", str(cfg), "--runs-dir", str(runs), "--device", "cpu")
    steps = json.loads((runs / "report" / "study.json").read_text())["steps"]
    run_names = sorted({s["target"] for s in steps if s["step"] == "train"})
    want = snapshot(runs, run_names)
    shutil.move(str(runs), tmp_path / "ref")
    rng = random.Random(2)
    killed = 0
    for trial in range(2):
        # at most 0.6 of the reference's time: a later study can run faster than the first one (cold caches)
        rc = lazy("study", str(cfg), "--runs-dir", str(runs), "--device", "cpu", kill_after=rng.uniform(3.0, 0.6 * full))
        killed += rc == -signal.SIGKILL
        lazy("study", str(cfg), "--runs-dir", str(runs), "--device", "cpu")
        assert snapshot(runs, run_names) == want
        shutil.rmtree(runs)
    assert killed


@pytest.fixture(autouse=True)
def _mnist_env(mnist_dir, monkeypatch):
    monkeypatch.setenv("LAZY_MNIST_DIR", str(mnist_dir))
