"""The global options of every subcommand: each option its --help lists is accepted, each one it would ignore is
refused (one error line, exit 2) and absent from its --help, and every failure prints the documented JSON
(``{"ok": false, "error": [lines], "exit_code": n}``). Offline: no command gets past its option checks or does any
work (the command bodies are replaced where a failure must come from inside one)."""

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer.main
from typer.testing import CliRunner

from lazyartist_cli.cli import common
from lazyartist_cli.cli.app import app
from lazyartist_cli.errors import LazyError

runner = CliRunner()
COMMANDS = typer.main.get_command(app).commands
REACHED = "reached the command body"


class _Reached(common.Ctx):
    """Stands in for the command's context: a command that gets this far accepted every option it was given (the
    error it raises is not one the command maps: it comes back as the invocation's exception)."""

    def __init__(self, *args, **kwargs):
        raise LazyError(REACHED)


def _arguments(command) -> list[str]:
    return ["x" for p in command.params if p.param_type_name == "argument" and p.required]


def _value(name: str, param) -> list[str]:
    if param.is_flag or param.count:
        return []
    if param.name == "set_":  # a key the command reads
        first = common.READS[name][0]
        return [f"{first}=1" if "." in first or first in ("seed", "device") else f"{first}.anything=1"]
    if param.name == "device":
        return ["cpu"]
    return ["1"]  # a number, a name or a path: what it means is checked inside the command, never reached here


def _listed_options():
    for name, command in COMMANDS.items():
        for param in command.params:
            if param.param_type_name == "option" and not param.hidden:
                yield name, param


@pytest.mark.parametrize("name, param", list(_listed_options()), ids=lambda x: getattr(x, "name", x))
def test_every_option_a_help_lists_is_accepted(name, param, monkeypatch, tmp_path):
    monkeypatch.setattr(common, "Ctx", _Reached)
    monkeypatch.chdir(tmp_path)
    help_text = runner.invoke(app, [name, "--help"], terminal_width=200).output
    assert re.search(rf"{re.escape(param.opts[0])}\b", help_text), f"lazy {name} --help does not list {param.opts[0]}"
    res = runner.invoke(app, [name, *_arguments(COMMANDS[name]), param.opts[0], *_value(name, param)])
    assert str(res.exception) == REACHED, f"lazy {name} {param.opts[0]}: {res.output}"


REFUSALS = [(name, opt) for name in COMMANDS for opt in common.REFUSED.get(name, {})]
GIVEN = {"config": ["--config", "run.toml"], "seed": ["--seed", "1"], "device": ["--device", "cpu"], "set_": ["--set", "seed=1"]}


@pytest.mark.parametrize("name, opt", REFUSALS, ids=[f"{n}-{o}" for n, o in REFUSALS])
def test_a_global_option_a_command_would_ignore_is_refused_in_one_line_and_left_out_of_its_help(name, opt, monkeypatch):
    monkeypatch.setattr(common, "Ctx", _Reached)
    res = runner.invoke(app, [name, *_arguments(COMMANDS[name]), *GIVEN[opt], "--json"])
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.exit_code == 2 and lines == [f"error: {common.REFUSED[name][opt]}"], res.output
    assert json.loads(res.stdout) == {"ok": False, "error": [common.REFUSED[name][opt]], "exit_code": 2}
    help_text = runner.invoke(app, [name, "--help"], terminal_width=200).output
    assert not re.search(rf"{GIVEN[opt][0]}\b", help_text), f"lazy {name} --help lists {GIVEN[opt][0]}, which it refuses"


def test_the_commands_that_would_ignore_an_option_refuse_it():
    assert set(common.REFUSED["runs"]) == {"config", "seed", "device", "set_"}  # it reads no run-file value
    assert set(common.REFUSED["sweep"]) == {"config", "seed"}  # its base run file and its seed axis
    assert set(common.REFUSED["verify-data"]) == {"seed", "device"} and set(common.REFUSED["make-data"]) == {"device"}
    assert set(common.REFUSED["report"]) == {"device"} and not common.REFUSED["train"] and not common.REFUSED["study"]


@pytest.mark.parametrize("args, key", [
    (["eval", "r", "--set", "data.protocol=decoy"], "data.protocol"),
    (["counterfactual", "r", "--set", "eval.n_failures=3"], "eval.n_failures"),
    (["verify-data", "--set", "data.correlation=0.9"], "data.correlation"),
    (["make-data", "--set", "train.epochs=3"], "train.epochs"),
    (["sweep", "s.toml", "--set", "seed=3"], "seed"),
])
def test_a_set_of_a_key_the_command_does_not_read_is_refused(args, key, monkeypatch):
    monkeypatch.setattr(common, "Ctx", _Reached)
    res = runner.invoke(app, args)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and f"lazy {args[0]} does not read {key} " in lines[0], res.output
    assert "the run-file keys it reads: " in lines[0]
    ok = runner.invoke(app, ["counterfactual", "r", "--set", "eval.batch_size=8"])  # the key it reads
    assert str(ok.exception) == REACHED, ok.output


def test_sweep_ignores_an_exported_lazy_config(tmp_path, monkeypatch):
    import lazyartist_cli.pipeline.sweep as sweep

    monkeypatch.setenv("LAZY_CONFIG", str(tmp_path / "nowhere.toml"))
    monkeypatch.setattr(sweep, "run_sweep", lambda sw, runs_dir, **kw: {
        "ok": True, "sweep": sw.spec.name, "executor": "local", "workers": 1, "seconds": 0.0, "points": [], "paths": {}})
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\n[axes]\nseed = [0, 1]\n')
    res = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(tmp_path / "runs"), "--json", "-q"])
    assert res.exit_code == 0 and json.loads(res.stdout)["sweep"] == "s", res.output
    monkeypatch.setenv("LAZY_CONFIG", str(path))  # an existing file: ignored all the same, never refused
    assert runner.invoke(app, ["sweep", str(path), "--runs-dir", str(tmp_path / "runs"), "-q"]).exit_code == 0


def _verify_failed(cfg, runs_dir, grids=True, reporter=None):
    from lazyartist_cli.data.build import SPLITS

    split = {"n": 10, "aligned_fraction": 0.5, "target": 0.95, "ok": False, "checks": {"sha256": True, "aligned_fraction": False}}
    return SimpleNamespace(ok=False, splits={s: split for s in SPLITS}, grids={}, hashes_ok={s: True for s in SPLITS},
                           dataset_dir=Path(runs_dir) / "datasets" / cfg.data.name)


def _sweep_failed(sw, runs_dir, **kw):
    point = {"run": "s-seed_0", "axis:seed": 0, "status": "failed", "val": None, "test_easy": None, "test_hard": None,
             "seconds": 0.1, "error": "LazyError: boom"}
    return {"ok": False, "sweep": "s", "executor": "local", "workers": 1, "seconds": 0.1, "points": [point], "paths": {}}


def _raise(exc):
    def fn(*args, **kwargs):
        raise exc
    return fn


# (id, patch (module attribute, replacement) or None, arguments, exit code, number of error lines)
FAILURES = [
    ("refused-option", None, ["runs", "--seed", "1"], 2, 1),
    ("refused-set-key", None, ["eval", "r", "--set", "data.protocol=decoy"], 2, 1),
    ("bad-device", None, ["eval", "r", "--device", "tpu"], 2, 1),
    ("config-errors", None, ["make-data", "--set", "data.correlation=2", "--set", "data.n_val=-1"], 2, 2),
    ("runtime-error", None, ["eval", "no-such-run", "--device", "cpu"], 1, 1),
    ("unexpected-error", ("lazyartist_cli.cli.study.list_runs", _raise(ValueError("boom"))), ["runs"], 1, 1),
    ("interrupted", ("lazyartist_cli.cli.study.list_runs", _raise(KeyboardInterrupt())), ["runs"], 130, 1),
    ("failed-check-verify-data", ("lazyartist_cli.cli.data.run_verify_data", _verify_failed), ["verify-data"], 1, 1),
    ("failed-check-sweep", ("lazyartist_cli.pipeline.sweep.run_sweep", _sweep_failed), ["sweep", "{sweep}"], 1, 1),
]


@pytest.mark.parametrize("case", FAILURES, ids=[c[0] for c in FAILURES])
def test_every_failure_prints_the_documented_json(case, tmp_path, monkeypatch):
    _, patch, args, code, n_lines = case
    if patch:
        monkeypatch.setattr(*patch)
    sweep_file = tmp_path / "s.toml"
    sweep_file.write_text('name = "s"\n[axes]\nseed = [0]\n')
    (tmp_path / "runs").mkdir()
    args = [a.format(sweep=sweep_file) for a in args]
    res = runner.invoke(app, [*args, "--runs-dir", str(tmp_path / "runs"), "--json", "-q"])
    assert res.exit_code == code, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["ok"] is False and out["exit_code"] == code
    assert isinstance(out["error"], list) and len(out["error"]) == n_lines and all(isinstance(x, str) and x for x in out["error"])
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert lines == [f"error: {x}" for x in out["error"]], res.output  # the same lines, one per problem
