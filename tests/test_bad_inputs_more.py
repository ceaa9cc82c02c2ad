"""More bad inputs (issue 24), beside tests/test_bad_inputs.py: the run file (TOML syntax, types, encodings,
huge numbers, NaN and infinity), options another option makes unused, sweep files and Ray addresses, run locks,
and runs and datasets edited by hand. Every case asserts the exit code (2 usage, 1 runtime), error lines only on
stderr with one naming the key, file or value, no traceback, a JSON error object with --json, nothing left behind
(no run, dataset, lock or partial file) and not one byte changed in the runs directories."""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from lazyartist_cli.cli.app import app
from lazyartist_cli.cli.common import REFUSED
from lazyartist_cli.runs import LOCKS_DIR, lock_path

runner = CliRunner()

# What a Ray 2.60 GCS (`ray start --head` with RAY_AUTH_MODE=token) sent back to the probe's GetClusterId call,
# recorded byte for byte: without a token (grpc-status 16) and with the right one (grpc-status 0).
_GCS_SETTINGS = (b"\x00\x00\x18\x04\x00\x00\x00\x00\x00\x00\x04\x00@\x00\x00\x00\x05\x00@\x00\x00\x00\x06\x00\x00@\x00"
                 b"\xfe\x03\x00\x00\x00\x01\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00?\x00\x01\x00\x00\x00\x04\x01\x00\x00"
                 b"\x00\x00\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x08\x06\x00\x00\x00\x00\x00\x00"
                 b"\x00\x00\x00\x00\x00\x00\x00\x00\x00")
GCS_UNAUTHENTICATED = _GCS_SETTINGS + (
    b"}\x01\x05\x00\x00\x00\x01\x88@\x0ccontent-type\x10application/grpc\x00\x0bgrpc-status\x0216\x00\x0c"
    b"grpc-message>InvalidAuthToken: Authentication token is missing or incorrect")
GCS_OK = _GCS_SETTINGS + (
    b"N\x01\x04\x00\x00\x00\x01\x88@\x0ccontent-type\x10application/grpc@\x14grpc-accept-encoding\x17identity, "
    b"deflate, gzip\x00\x00%\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00 \n\x00\x12\x1c\xb8i\xfe\x08\xadp\xf4f\xadK\x98"
    b"\xc5eI\xc1\xac\xda:d\x0c\x15Lk\xac\x8d\xabz\xa6\x00\x00\x0f\x01\x05\x00\x00\x00\x01@\x0bgrpc-status\x010")
TOKEN = "0123456789abcdef0123456789abcdef"


class _Replay(threading.Thread):
    """A local TCP server that answers every connection with ``reply(request bytes)`` (then closes it)."""

    def __init__(self, reply):
        super().__init__(daemon=True)
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(0.5)
                data = b""
                try:
                    while b"\x00\x00\x00\x00\x00" not in data[-5:] or len(data) < 30:  # up to the empty DATA frame
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    pass
                try:
                    conn.sendall(self.reply(data))
                except OSError:
                    pass


def _gcs_reply(request: bytes) -> bytes:
    """A token-protected GCS: the recorded 'ok' only for a request carrying Bearer TOKEN."""
    return GCS_OK if f"Bearer {TOKEN}".encode() in request else GCS_UNAUTHENTICATED


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture(scope="module")
def world(trained, tmp_path_factory):
    """Two runs directories (a copy of the trained one, and one with runs and datasets edited by hand), the bad
    input files, a live process to hold locks, and local servers standing in for Ray clusters."""
    src, _ = trained
    d = tmp_path_factory.mktemp("corpus-more")
    runs, edited, inp = d / "runs", d / "edited", d / "in"
    shutil.copytree(src, runs)  # its own copy: cases plant locks in it
    inp.mkdir()
    w: dict[str, object] = {"runs": runs, "edited": edited, "in": inp, "fresh": d / "fresh-runs"}

    def put(name: str, text: str | bytes) -> None:
        p = inp / name
        p.write_bytes(text if isinstance(text, bytes) else text.encode())
        w[name.replace(".", "_").replace("-", "_")] = p

    # run files
    put("dup-key.toml", "[train]\nepochs = 1\nepochs = 2\n")
    put("unterminated.toml", '[data]\nname = "abc\n')
    put("section-not-table.toml", "train = 5\n")
    put("list-for-number.toml", "[data]\ncorrelation = [0.9]\n")
    put("utf16.toml", "[train]\nepochs = 2\n".encode("utf-16"))
    put("binary.toml", b"\x00\x01\x02\x03 binary")
    put("huge-int.toml", "[train]\nepochs = 99999999999999999999999\n")
    put("huge-seed.toml", "seed = 99999999999999999999\n")
    put("nan.toml", "[data]\ncorrelation = nan\n")
    put("inf.toml", "[train]\nlr = inf\n")
    put("neg-inf.toml", "[attack]\neps = -inf\n")
    put("date.toml", "[train]\nepochs = 1979-05-27\n")
    put("sae-k-in-file.toml", "[sae]\nk = 100000\n")
    put("study-model.toml", '[train]\nmodel = "small-cnn"\n')
    # sweep files
    sweep = 'name = "bad"\n[set]\n"data.n_train" = 3000\n"data.n_val" = 1000\n"data.n_test" = 1000\n"train.epochs" = 1\n'
    put("sweep-empty-axis.toml", sweep + "[axes]\nseed = []\n")
    put("sweep-unknown-top.toml", sweep.replace('name = "bad"\n', 'name = "bad"\nexecutor = "ray"\n') + "[axes]\nseed = [0]\n")
    put("sweep-unknown-axis-key.toml", sweep + '[axes]\n"train.epochz" = [1, 2]\n')
    put("sweep-axis-not-list.toml", sweep + "[axes]\nseed = 3\n")
    put("sweep-duplicate-names.toml", sweep + '[axes]\n"train.lr" = [0.001, "0.001"]\n')
    put("sweep-include-twice.toml", sweep + "[axes]\nseed = [0, 1]\n[[include]]\nseed = 1\n")
    put("sweep-include-unknown.toml", sweep + '[axes]\nseed = [0]\n[[include]]\n"train.epochz" = 2\n')
    put("sweep-base-missing.toml", 'name = "bad"\nbase = "no-such-base.toml"\n[axes]\nseed = [0]\n')
    put("sweep-base-itself.toml", 'name = "bad"\nbase = "sweep-base-itself.toml"\n[axes]\nseed = [0]\n')
    put("sweep-name-set.toml", sweep.replace("[set]\n", '[set]\n"train.name" = "mine"\n') + "[axes]\nseed = [0]\n")
    put("sweep-bad-value.toml", sweep + '[axes]\n"data.correlation" = [0.9, 1.5]\n')
    put("sweep-malformed.toml", 'name = "bad"\n[axes\nseed = [0]\n')
    put("sweep-ok.toml", sweep + "[axes]\nseed = [0]\n")
    put("sweep-exclude-unknown.toml", sweep + "[axes]\nseed = [0, 1]\n[[exclude]]\n\"train.lr\" = 0.1\n")

    # runs and datasets edited by hand
    edited.mkdir()
    shutil.copytree(runs / "datasets", edited / "datasets")
    shutil.copytree(runs / "base", edited / "base")
    ds = edited / "datasets"
    shutil.copytree(ds / "colored-mnist", ds / "truncated-meta")
    meta = ds / "truncated-meta" / "metadata.json"
    meta.write_text(meta.read_text()[: len(meta.read_text()) // 2])
    shutil.copytree(ds / "colored-mnist", ds / "meta-not-object")
    (ds / "meta-not-object" / "metadata.json").write_text("[1, 2, 3]\n")
    shutil.copytree(ds / "colored-mnist", ds / "stale-hash")
    victim = ds / "stale-hash" / "test_hard.pt"
    victim.write_bytes(victim.read_bytes()[:-16] + b"1" * 16)
    shutil.copytree(ds / "colored-mnist", ds / "split-missing")
    (ds / "split-missing" / "test_easy.pt").unlink()
    for name in ("other-arch", "truncated-config", "no-best", "unknown-arch", "on-stale-hash",
                 "on-split-missing"):
        shutil.copytree(runs / "base", edited / name)
    ck = torch.load(edited / "base" / "best.pt", weights_only=True)
    for run, dataset in (("on-stale-hash", "stale-hash"), ("on-split-missing", "split-missing")):
        torch.save({**ck, "config": {**ck["config"], "train": {**ck["config"]["train"], "dataset": dataset}}},
                   edited / run / "best.pt")
    torch.save({**ck, "model_name": "small-cnn", "model_options": {}}, edited / "other-arch" / "best.pt")
    torch.save({**ck, "model_name": "vgg16", "model_options": {}}, edited / "unknown-arch" / "best.pt")
    cfg = edited / "truncated-config" / "config.json"
    cfg.write_text(cfg.read_text()[:100])
    (edited / "no-best" / "best.pt").unlink()
    last = edited / "base" / "last.pt"  # a run keeps its own name in its config: resume it under that name
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    (edited / "a-file").write_text("not a run")

    # stand-ins for Ray clusters
    gcs = _Replay(_gcs_reply)
    gcs.start()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # not on the test's stderr
            pass

    http1 = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=http1.serve_forever, daemon=True).start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts (the kernel does) and never answers
    w.update(gcs=f"127.0.0.1:{gcs.port}", http1=f"127.0.0.1:{http1.server_address[1]}",
             silent=f"127.0.0.1:{silent.getsockname()[1]}", closed=f"127.0.0.1:{_closed_port()}")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)"])
    w["live_pid"] = sleeper.pid
    yield w
    sleeper.kill()
    sleeper.wait()
    http1.shutdown()
    gcs.sock.close()
    silent.close()


def _holder(pid: int, host: str | None = None) -> str:
    return json.dumps({"pid": pid, "host": host or socket.gethostname(), "command": "lazy train --name base",
                       "started": "2026-01-01T00:00:00+00:00"})


def _plant(text: str, kind: str = "run", name: str = "base"):
    def setup(w) -> Path:
        path = lock_path(w["runs"], kind, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text({"{live}": lambda: _holder(w["live_pid"]), "{dead}": lambda: _holder(_dead_pid())}.get(text, lambda: text)())
        return path
    return setup


def _locks_not_a_dir(w) -> Path:
    """A runs dir whose .locks is a file (a user's mistake, or a full disk's leftover)."""
    fresh = w["fresh"]
    if not fresh.exists():
        shutil.copytree(w["runs"] / "datasets", fresh / "datasets")
        shutil.copytree(w["runs"] / "base", fresh / "base")
        (fresh / ".locks").write_text("not a directory")
    return fresh / ".locks"


SWEEP_RAY = ["sweep", "{sweep_ok_toml}", "--executor", "ray", "--address"]

# (id, argument template, exit code, fragment of an error line, setup)
CASES = [
    # ---- the run file: TOML syntax, types, encodings, huge numbers, NaN and infinity
    ("toml-duplicate-key", ["train", "-c", "{dup_key_toml}"], 2, "{dup_key_toml}: malformed TOML", None),
    ("toml-unterminated-string", ["make-data", "-c", "{unterminated_toml}"], 2, "{unterminated_toml}: malformed TOML", None),
    ("toml-section-is-a-number", ["train", "-c", "{section_not_table_toml}"], 2, "train:", None),
    ("toml-list-for-a-number", ["make-data", "-c", "{list_for_number_toml}"], 2, "data.correlation", None),
    ("toml-utf16", ["train", "-c", "{utf16_toml}"], 2, "{utf16_toml}", None),
    ("toml-binary", ["eval", "base", "-c", "{binary_toml}"], 2, "{binary_toml}", None),
    ("toml-date-for-int", ["train", "-c", "{date_toml}"], 2, "train.epochs", None),
    ("toml-huge-int", ["train", "-c", "{huge_int_toml}"], 2, "train.epochs", None),
    ("toml-huge-seed", ["eval", "base", "-c", "{huge_seed_toml}"], 2, "seed", None),
    ("cli-huge-seed", ["train", "--seed", "99999999999999999999"], 2, "seed", None),
    ("toml-nan", ["make-data", "-c", "{nan_toml}"], 2, "data.correlation", None),
    ("toml-inf", ["train", "-c", "{inf_toml}"], 2, "train.lr", None),
    ("toml-minus-inf", ["attack", "base", "-c", "{neg_inf_toml}"], 2, "attack.eps", None),
    ("set-inf-unbounded-float", ["probe", "base", "--set", "probe.lr=inf"], 2, "probe.lr", None),
    ("set-nan", ["sae", "base", "--set", "sae.lr=nan"], 2, "sae.lr", None),
    ("set-huge-float-for-int", ["eval", "base", "--set", "eval.batch_size=1e30"], 2, "eval.batch_size", None),
    ("set-empty-key", ["make-data", "--set", "=3"], 2, "'=3'", None),
    ("set-empty-key-part", ["make-data", "--set", "data..seed=3"], 2, "data..seed", None),
    ("set-below-a-number", ["make-data", "--set", "seed.x=1"], 2, "seed", None),
    ("run-file-is-a-directory", ["train", "-c", "{in}"], 2, "{in}", None),
    ("env-config-missing", ["train"], 2, "{in}/nope.toml", "env-config"),
    # ---- options another option makes unused: an error naming the key, never ignored
    ("sae-k-under-the-sweep", ["sae", "base", "--set", "sae.k=100000"], 2, "sae.k = 100000 is not used", None),
    ("sae-k-in-the-run-file", ["sae", "base", "-c", "{sae_k_in_file_toml}"], 2, "sae.k", None),
    ("sae-expansion-under-the-sweep", ["sae", "base", "--set", "sae.expansion=2"], 2, "sae.expansion", None),
    ("sae-k-larger-than-latents", ["sae", "base", "--k", "100000"], 2, "sae.k = 100000 is larger than the latent size", None),
    ("sae-sweep-k-larger-than-latents", ["sae", "base", "--set", "sae.sweep_k=[8, 100000]"], 2, "sae.sweep_k", None),
    ("sae-k-of-an-l1-sae", ["sae", "base", "--kind", "l1", "--k", "4"], 2, "sae.k = 4 is not used by an l1 SAE", None),
    ("sae-l1-of-a-topk-sae", ["sae", "base", "--set", "sae.l1=0.1"], 2, "sae.l1", None),
    ("probe-n-units-with-channels", ["probe", "base", "--channels", "0,1", "--set", "probe.n_units=4"], 2, "probe.n_units", None),
    ("attack-pairs-only-with-source", ["attack", "base", "--source", "2", "--target", "5", "--set", "attack.pairs_only=true"],
     2, "attack.source_class", None),
    ("attack-pairs-only-without-pairs", ["attack", "base", "--set", "attack.pairs_only=true", "--set", "attack.pairs=[]"],
     2, "attack.pairs", None),
    ("study-train-model-replaced", ["study", "{study_model_toml}"], 2, "train.model", None),
    ("study-train-strategy-replaced", ["study", "--set", "train.strategy=consistency"], 2, "train.strategy", None),
    # ---- every other subcommand
    ("counterfactual-missing-run", ["counterfactual", "nobody"], 1, "'nobody' not found", None),
    ("counterfactual-zero-images", ["counterfactual", "base", "--set", "counterfactual.n_images=0"], 2, "counterfactual.n_images", None),
    ("verify-data-unknown-dataset", ["verify-data", "--name", "never-built"], 1, "never-built", None),
    ("gradcam-zero-images", ["gradcam", "base", "--n-images", "0"], 2, "gradcam.n_images", None),
    ("runs-listing-of-a-file", ["runs", "--runs-dir", "{edited}/a-file"], 1, "a-file", None),
    ("report-dir-reserved", ["report", "--set", "report.dir=datasets"], 2, "report dir", None),
    # ---- sweep files (see pipeline/sweep.py: the sweep file, its base run file, its points)
    ("sweep-file-missing", ["sweep", "{in}/none.toml"], 2, "none.toml not found", None),
    ("sweep-malformed", ["sweep", "{sweep_malformed_toml}"], 2, "{sweep_malformed_toml}: not valid TOML", None),
    ("sweep-empty-axis", ["sweep", "{sweep_empty_axis_toml}"], 2, "axis 'seed' has no values", None),
    ("sweep-unknown-key", ["sweep", "{sweep_unknown_top_toml}"], 2, "executor", None),
    ("sweep-unknown-run-file-key", ["sweep", "{sweep_unknown_axis_key_toml}"], 2, "train.epochz", None),
    ("sweep-axis-not-a-list", ["sweep", "{sweep_axis_not_list_toml}"], 2, "axes.seed", None),
    ("sweep-duplicate-point-names", ["sweep", "{sweep_duplicate_names_toml}"], 2, "two points are both named", None),
    ("sweep-include-repeats-a-point", ["sweep", "{sweep_include_twice_toml}"], 2, "bad-seed_1", None),
    ("sweep-include-unknown-key", ["sweep", "{sweep_include_unknown_toml}"], 2, "train.epochz", None),
    ("sweep-exclude-unknown-key", ["sweep", "{sweep_exclude_unknown_toml}"], 2, "'train.lr' is not an axis", None),
    ("sweep-base-missing", ["sweep", "{sweep_base_missing_toml}"], 2, "no-such-base.toml not found", None),
    ("sweep-base-is-itself", ["sweep", "{sweep_base_itself_toml}"], 2, "base: names the sweep file itself", None),
    ("sweep-sets-train-name", ["sweep", "{sweep_name_set_toml}"], 2, "train.name", None),
    ("sweep-bad-axis-value", ["sweep", "{sweep_bad_value_toml}"], 2, "data.correlation", None),
    ("sweep-cli-train-name", ["sweep", "{sweep_ok_toml}", "--set", "train.name=x"], 2, "train.name", None),
    ("sweep-zero-workers", ["sweep", "{sweep_ok_toml}", "--workers", "0"], 2, "--workers", None),
    ("sweep-with-config", ["sweep", "{sweep_ok_toml}", "-c", "{nan_toml}"], 2, "base", None),
    ("sweep-address-without-ray", ["sweep", "{sweep_ok_toml}", "--address", "{gcs}"], 2, "--address is for --executor ray", None),
    # ---- Ray addresses: probed before anything is built; one line naming the address, in seconds
    ("ray-address-refused", [*SWEEP_RAY, "{closed}"], 1, "cannot reach the Ray cluster at {closed}: connection refused", None),
    ("ray-address-no-port", [*SWEEP_RAY, "headnode"], 2, "--address 'headnode'", None),
    ("ray-address-bad-port", [*SWEEP_RAY, "127.0.0.1:99999"], 2, "'127.0.0.1:99999'", None),
    ("ray-address-dashboard-url", [*SWEEP_RAY, "http://127.0.0.1:8265"], 2, "http://127.0.0.1:8265", None),
    ("ray-address-unknown-host", [*SWEEP_RAY, "no-such-host.invalid:6379"], 1, "no-such-host.invalid", None),
    ("ray-address-http1-server", [*SWEEP_RAY, "{http1}"], 1, "the Ray cluster at {http1}: port", None),
    ("ray-address-silent-port", [*SWEEP_RAY, "{silent}"], 1, "the Ray cluster at {silent}", None),
    ("ray-client-address-refused", [*SWEEP_RAY, "ray://{closed}"], 1, "ray://{closed}: connection refused", None),
    ("ray-cluster-needs-a-token", [*SWEEP_RAY, "{gcs}"], 1, "the Ray cluster at {gcs} needs an authentication token", None),
    ("ray-cluster-refuses-the-token", [*SWEEP_RAY, "{gcs}"], 1, "the Ray cluster at {gcs} refused this driver's", "wrong-token"),
    # ---- locks (runs/.locks; see runs.write_lock)
    ("lock-held-by-a-live-process", ["eval", "base"], 1, "run 'base' is being written by another process (pid {live_pid}",
     _plant("{live}")),
    ("lock-from-another-host", ["gradcam", "base"], 1, "on build-node-7", _plant(_holder(1, "build-node-7"))),
    ("lock-unreadable", ["counterfactual", "base"], 1, "names no holder", _plant("\x00garbage{")),
    ("lock-dataset-held", ["make-data", "--force"], 1, "dataset 'colored-mnist' is being written",
     _plant("{live}", kind="dataset", name="colored-mnist")),
    ("lock-stale-then-the-real-error", ["train", "--name", "base", "--epochs", "4", "--set", "train.lr=0.004"], 2, "--resume",
     _plant("{dead}")),
    ("locks-dir-is-a-file", ["eval", "base", "--runs-dir", "{fresh}"], 1, "cannot write to {fresh}/.locks", _locks_not_a_dir),
    # ---- runs and datasets edited by hand
    ("dataset-metadata-truncated", ["train", "--name", "x", "--epochs", "1", "--set", "data.name=truncated-meta",
                                    "--runs-dir", "{edited}"], 1, "truncated-meta/metadata.json", None),
    ("dataset-metadata-not-an-object", ["verify-data", "--name", "meta-not-object", "--runs-dir", "{edited}"], 1,
     "meta-not-object/metadata.json", None),
    ("dataset-hash-no-longer-matches", ["eval", "on-stale-hash", "--runs-dir", "{edited}"], 1,
     "stale-hash/test_hard.pt does not match the hash", None),
    ("dataset-split-deleted", ["counterfactual", "on-split-missing", "--runs-dir", "{edited}"], 1,
     "split file missing: {edited}/datasets/split-missing/test_easy.pt", None),
    ("checkpoint-of-another-architecture", ["eval", "other-arch", "--runs-dir", "{edited}"], 1, "do not fit model 'small-cnn'", None),
    ("checkpoint-of-an-unknown-architecture", ["gradcam", "unknown-arch", "--runs-dir", "{edited}"], 1, "vgg16", None),
    ("checkpoint-deleted", ["eval", "no-best", "--runs-dir", "{edited}"], 1, "no-best/best.pt", None),
    ("run-config-truncated", ["train", "--name", "truncated-config", "--resume", "--runs-dir", "{edited}"], 1,
     "truncated-config/config.json", None),
    ("resume-from-a-truncated-last-checkpoint", ["train", "--name", "base", "--resume", "--epochs", "4", "--set", "train.lr=0.004",
                                                 "--runs-dir", "{edited}"], 1, "{edited}/base/last.pt is corrupted", None),
    ("run-is-a-file", ["eval", "a-file", "--runs-dir", "{edited}"], 1, "'a-file' not found", None),
]


def test_the_probe_lets_a_reachable_cluster_through_and_reads_addresses():
    """No false alarm: the recorded GCS answer to the right token passes, and every address form Ray takes parses."""
    from lazyartist_cli.errors import LazyError, UsageError
    from lazyartist_cli.executors.ray_tasks import parse_address, probe_address

    gcs = _Replay(_gcs_reply)
    gcs.start()
    try:
        probe_address(f"127.0.0.1:{gcs.port}", token=(("authorization", f"Bearer {TOKEN}"),))  # silent: a cluster answered
        with pytest.raises(LazyError, match="needs an authentication token"):
            probe_address(f"127.0.0.1:{gcs.port}", token=())
    finally:
        gcs.sock.close()
    assert parse_address("auto") is None and parse_address("local") is None
    assert parse_address("10.0.0.5:6379") == ("10.0.0.5", 6379, False)
    assert parse_address("[::1]:6379") == ("::1", 6379, False)
    assert parse_address("ray://head") == ("head", 10001, True)
    assert parse_address("ray://head:10002/") == ("head", 10002, True)
    for bad in ("head", "head:", "head:port", "a:b:c", "tcp://head:6379", ""):
        with pytest.raises(UsageError):
            parse_address(bad)


def test_runs_lists_runs_edited_by_hand_with_what_it_can_read(tmp_path):
    """`lazy runs` is how one finds a damaged run: valid JSON of the wrong shape must not crash it."""
    for name, config, metrics in (("list-config", "[1]", None), ("number-config", '{"config": 5}', None),
                                  ("train-not-table", '{"config": {"train": []}}', None),
                                  ("list-metrics", '{"config": {"seed": 3}}', "[]"), ("cut-metrics", "{}", '{"val": 0.')):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(config)
        if metrics is not None:
            (tmp_path / name / "eval").mkdir()
            (tmp_path / name / "eval" / "metrics.json").write_text(metrics)
    res = runner.invoke(app, ["runs", "--runs-dir", str(tmp_path), "--json", "-q"])
    assert res.exit_code == 0, res.output
    rows = {r["run"]: r for r in json.loads(res.stdout)["runs"]}
    assert sorted(rows) == ["cut-metrics", "list-config", "list-metrics", "number-config", "train-not-table"]
    assert rows["list-metrics"]["seed"] == 3 and rows["list-metrics"]["val"] is None


def test_the_corpora_together_hold_at_least_70_cases():
    from tests.test_bad_inputs import CASES as FIRST

    ids = [c[0] for c in FIRST] + [c[0] for c in CASES]
    assert len(ids) >= 70 and len(set(ids)) == len(ids)


def tree_digest(*roots: Path) -> dict[str, str]:
    """Every path under the roots (directories too) and each file's SHA-256. The empty ``.locks`` directory a
    command leaves after releasing its lock is part of the runs/ layout, not a leftover; any file in it counts."""
    out = {}
    for root in roots:
        if not root.exists():
            continue
        for p in sorted(root.rglob("*")):
            if p.name == LOCKS_DIR and p.is_dir():
                continue
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


# Defects found by the corpus in files another engineer owns (issue 24's report describes the fix): strict, so
# the fix turns these into failures that ask for the mark to go.
KNOWN: dict[str, str] = {}  # case -> why it is expected to fail (strict): none left


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=KNOWN[c[0]])) if c[0] in KNOWN
                                  else c for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(world, case, monkeypatch):
    _, template, code, fragment, setup = case
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    if setup == "env-config":
        monkeypatch.setenv("LAZY_CONFIG", f"{world['in']}/nope.toml")
    if setup == "wrong-token":
        monkeypatch.setattr("lazyartist_cli.executors.ray_tasks._driver_token_header",
                            lambda: (("authorization", "Bearer ffff456789abcdef0123456789abcdef"),))
    else:
        monkeypatch.setattr("lazyartist_cli.executors.ray_tasks._driver_token_header", lambda: ())
    planted = setup(world) if callable(setup) else None
    fill = {k: str(v) for k, v in world.items()}
    args = [a.format(**fill) for a in template]
    if "--runs-dir" not in args:
        args += ["--runs-dir", fill["runs"]]
    roots = [world["runs"], world["edited"], world["in"], world["fresh"]]
    before = tree_digest(*roots)
    try:
        takes_device = "device" not in REFUSED[args[0]]  # a command refuses a global option it would ignore
        res = runner.invoke(app, [*args, "--json", "-q", "--device", "cpu"] if takes_device and "--device" not in args
                            else [*args, "--json", "-q"])
        after = tree_digest(*roots)
    finally:
        if planted is not None and planted.name.endswith(".lock"):
            planted.unlink(missing_ok=True)
    out = res.output
    assert res.exit_code == code, out
    assert "Traceback" not in out and "unexpected" not in out, out
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("error:") for line in lines), out  # error lines only, nothing else
    assert any(fragment.format(**fill) in line for line in lines), out
    payload = json.loads(res.stdout.strip().splitlines()[-1])
    assert payload["ok"] is False and payload["exit_code"] == code
    if case[0] == "lock-stale-then-the-real-error":  # the dead holder's lock was taken over, then released
        assert str(planted) in before and not planted.exists()
        before.pop(str(planted))
    assert after == before  # nothing created, removed or changed: no run, dataset, lock or partial file
