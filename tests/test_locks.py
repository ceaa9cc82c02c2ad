"""Run-level write locks: one writer per run or dataset; a second writer, with or without --force,
fails naming the holder (exit 1); a lock left by a killed process is taken over."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

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


def test_a_takeover_guard_left_by_a_killed_newcomer_does_not_block_the_next(tmp_path):
    dead = _dead_pid()
    path = _plant(tmp_path, "run", "g", dead)
    guard = path.with_name(path.name + ".takeover")
    guard.write_text(path.read_text())  # a newcomer killed mid-takeover (same dead pid is fine: it is gone)
    with write_lock(tmp_path, "run", "g"):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert sorted(p.name for p in path.parent.iterdir()) == []


@pytest.mark.parametrize("initializer", ["lazyartist_cli.executors.process:die_with_parent",
                                         "lazyartist_cli.pipeline.study:_worker_start"])
def test_pool_workers_end_with_their_killed_parent_and_count_as_dead(tmp_path, initializer):
    """A SIGKILLed `lazy study` or `lazy sweep --executor process` leaves no worker behind holding a run's lock
    (before, the workers lived on, blocked, for good). An exited worker nobody reaps (a zombie) is not alive."""
    import signal

    from lazyartist_cli.runs import _alive

    module, fn = initializer.split(":")
    code = (f"import os, sys, time, multiprocessing\nfrom concurrent.futures import ProcessPoolExecutor\n"
            f"from {module} import {fn} as init\n"
            "if __name__ == '__main__':\n"
            "    args = (1,) if init.__name__ == '_worker_start' else ()\n"
            "    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context('spawn'), initializer=init, initargs=args) as pool:\n"
            "        futs = [pool.submit(time.sleep, 300) for _ in range(2)]\n"
            "        while len(pool._processes) < 2 or not all(f.running() for f in futs): time.sleep(0.05)\n"
            "        print(' '.join(map(str, pool._processes)), flush=True)\n"
            "        time.sleep(300)\n")
    script = tmp_path / "parent.py"
    script.write_text(code)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE)
    import select

    ready = select.select([parent.stdout], [], [], 120)[0]
    if not ready:
        parent.kill()
        parent.wait()
    assert ready, "the pool never reported its workers"
    workers = [int(w) for w in parent.stdout.readline().split()]
    parent.stdout.close()
    assert len(workers) == 2 and all(_alive(w) for w in workers)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 60
    try:
        while any(_alive(w) for w in workers) and time.time() < deadline:
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers)
    finally:
        for w in workers:
            try:
                os.kill(w, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_an_empty_lock_is_refused_while_fresh_and_taken_over_once_old(tmp_path):
    """A command killed between creating its lock and writing it (possible only without hard links) leaves an
    empty lock that names nobody: refused while it may still be being written, stale once 10 s old."""
    path = lock_path(tmp_path, "run", "e")
    path.parent.mkdir(parents=True)
    path.write_text("")
    with pytest.raises(LazyError, match="names no holder yet"):
        with write_lock(tmp_path, "run", "e"):
            pass
    old = time.time() - 60
    os.utime(path, (old, old))
    with write_lock(tmp_path, "run", "e"):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()


def test_the_lock_is_complete_the_instant_it_exists_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    """The holder's record is written before the lock appears (hard link), so a kill at any instant leaves
    no lock or a whole one; the process's private file is removed."""
    import lazyartist_cli.runs as runs_mod

    seen = []
    real_link = os.link

    def link(src, dst):
        seen.append(json.loads(Path(src).read_text()))  # what appears at dst is already whole
        real_link(src, dst)

    monkeypatch.setattr(runs_mod.os, "link", link)
    with write_lock(tmp_path, "run", "h") as path:
        assert seen and seen[0]["pid"] == os.getpid()
        assert json.loads(path.read_text()) == seen[0]
        assert sorted(p.name for p in path.parent.iterdir()) == ["run-h.lock"]
    assert list(path.parent.iterdir()) == []


def test_without_hard_links_the_lock_is_still_taken_and_released(tmp_path, monkeypatch):
    import lazyartist_cli.runs as runs_mod

    def no_link(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(runs_mod.os, "link", no_link)
    with write_lock(tmp_path, "run", "n") as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
        assert sorted(p.name for p in path.parent.iterdir()) == ["run-n.lock"]
    assert not path.exists()


def test_a_process_killed_at_any_instant_of_taking_its_lock_leaves_no_lock_that_blocks(tmp_path):
    """Kill a process that takes and releases the lock in a loop, at random instants, 30 times: the next writer
    always gets the lock. (Before the lock was written whole, about a third of such kills left an empty lock
    that refused every later writer; a killed sweep hit it in CI.)"""
    import random
    import signal

    code = ("import sys; from pathlib import Path; from lazyartist_cli.runs import write_lock\n"
            "print('go', flush=True)\n"
            "while True:\n    with write_lock(Path(sys.argv[1]), 'run', 'x'): pass\n")
    rng = random.Random(0)
    for i in range(30):
        runs = tmp_path / str(i)
        proc = subprocess.Popen([sys.executable, "-c", code, str(runs)], stdout=subprocess.PIPE)
        assert proc.stdout.readline() == b"go\n"
        time.sleep(rng.uniform(0.0, 0.03))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        with write_lock(runs, "run", "x") as path:
            assert json.loads(path.read_text())["pid"] == os.getpid()


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
            "with write_lock(Path(sys.argv[1]), 'run', 'x'):\n    print('held', flush=True); time.sleep(600)")
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
    first = _train(runs, "y", 30)  # long enough (~5x the second's start-up) that it still trains when the second asks
    path = lock_path(runs, "run", "y")
    deadline = time.time() + 60
    while not path.exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    second = _train(runs, "y", 30)
    out2, err2 = second.communicate(timeout=600)
    still_training = first.poll() is None
    out1, err1 = first.communicate(timeout=600)
    assert first.returncode == 0, err1.decode()
    assert still_training, "the first writer ended before the second was refused: the test proved nothing"
    assert second.returncode == 1, (out2 + err2).decode()  # the lock, not "already exists": the first still trains
    assert f"pid {first.pid}" in (out2 + err2).decode()
    assert len((runs / "y" / "history.jsonl").read_text().splitlines()) == 30
    assert not path.exists()
