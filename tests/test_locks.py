"""Run-level write locks: one writer per run or dataset; a second writer, with or without --force,
fails naming the holder (exit 1); a lock left by a killed process is taken over."""

import json
import os
import subprocess
import sys
import time

import pytest

from lazyartist_cli.errors import LazyError
from lazyartist_cli.runs import lock_path, write_lock
from tests.test_kill import SMALL


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _plant(runs, kind, name, pid):
    path = lock_path(runs, kind, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    import socket

    holder = {"pid": pid, "host": socket.gethostname(), "command": "lazy train --name x", "started": "2026-01-01T00:00:00+00:00"}
    path.write_text(json.dumps(holder))
    return path


def test_lock_is_reentrant_released_and_refused_to_a_live_holder(tmp_path):
    with write_lock(tmp_path, "run", "x") as path:
        with write_lock(tmp_path, "run", "x"):  # the same process again: a study trains, then evaluates
            assert path.is_file()
        assert path.is_file()
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _plant(tmp_path, "run", "x", sleeper.pid)
        with pytest.raises(LazyError, match=f"being written by another process \\(pid {sleeper.pid}"):
            with write_lock(tmp_path, "run", "x"):
                pass
        assert json.loads(lock_path(tmp_path, "run", "x").read_text())["pid"] == sleeper.pid  # not taken
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_stale_lock_of_a_killed_process_is_taken_over(tmp_path):
    _plant(tmp_path, "dataset", "d", _dead_pid())
    with write_lock(tmp_path, "dataset", "d") as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()


def _train(runs, name, epochs, *extra):
    return subprocess.Popen([sys.executable, "-m", "lazyartist_cli", "train", "--name", name, "--epochs", str(epochs), "-q",
                             "--runs-dir", str(runs), *SMALL, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONHASHSEED": "0"})


@pytest.fixture(scope="module")
def small_runs(tmp_path_factory, mnist_dir):
    runs = tmp_path_factory.mktemp("locks") / "runs"
    subprocess.run([sys.executable, "-m", "lazyartist_cli", "make-data", "-q", "--runs-dir", str(runs), "--mnist-dir",
                    str(mnist_dir), *SMALL], check=True)
    return runs


def test_force_while_another_process_holds_the_run_fails_and_changes_nothing(small_runs):
    runs = small_runs
    first = _train(runs, "x", 1)
    assert first.communicate(timeout=300)[0] is not None and first.returncode == 0
    before = {p.name: p.read_bytes() for p in (runs / "x").iterdir() if p.is_file()}
    code = ("import sys, time; from pathlib import Path; from lazyartist_cli.runs import write_lock\n"
            "with write_lock(Path(sys.argv[1]), 'run', 'x'):\n    print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(runs)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"held"
        for extra in ([], ["--force"], ["--resume"]):
            second = _train(runs, "x", 1, *extra)
            out, err = second.communicate(timeout=300)
            text = (out + err).decode()
            assert second.returncode == 1, text
            assert f"pid {holder.pid}" in text and "Traceback" not in text
        after = {p.name: p.read_bytes() for p in (runs / "x").iterdir() if p.is_file()}
        assert after == before
    finally:
        holder.kill()
        holder.wait()


def test_two_writers_started_a_second_apart_exactly_one_succeeds(small_runs):
    runs = small_runs
    first = _train(runs, "y", 12)
    path = lock_path(runs, "run", "y")
    deadline = time.time() + 60
    while not path.exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    second = _train(runs, "y", 12)
    out2, err2 = second.communicate(timeout=600)
    out1, err1 = first.communicate(timeout=600)
    assert first.returncode == 0, err1.decode()
    assert second.returncode == 1, (out2 + err2).decode()  # the lock, not "already exists": the first still trains
    assert f"pid {first.pid}" in (out2 + err2).decode()
    assert len((runs / "y" / "history.jsonl").read_text().splitlines()) == 12
    assert not path.exists()
