"""Shared CLI plumbing: global options on every command, error mapping, Rich output.

Every command gets ``--config/-c``, ``--runs-dir``, ``--seed``, ``--device``,
``--set KEY=VALUE``, ``--json`` and ``--quiet`` through :func:`lazy_command`, except
those it would ignore: a command declares the run-file keys it reads, and a global
option it would not read is left out of its ``--help`` and refused (one line, exit 2).
Human output (tables, progress, errors) goes to stderr; with ``--json``
stdout carries exactly one JSON object; a failure's is
``{"ok": false, "error": [lines], "exit_code": n}`` (a failed check keeps its results beside).
"""

import functools
import inspect
import json
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..config import RunConfig, load_config, parse_set
from ..errors import ConfigError, LazyError, UsageError
from ..pipeline.reporter import Reporter


class RichReporter(Reporter):
    """Draws pipeline progress with Rich on stderr; without a terminal (logs, CI) it prints
    plain lines instead of bars: one when a task starts, at every tenth of it, and when it ends."""

    def __init__(self, console: Console, enabled: bool):
        self.console = console
        self.enabled = enabled
        self.plain = enabled and not console.is_terminal
        self._plain_state: dict[str, list[Any]] = {}  # key -> [description, total, completed, last tenth printed]
        self.progress = Progress(
            TextColumn("[bold blue]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled or self.plain,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> "RichReporter":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def start(self, key: str, description: str, total: Optional[float] = None) -> None:
        self.tasks[key] = self.progress.add_task(description, total=total, info="")
        if self.plain:
            self._plain_state[key] = [description, total, 0.0, 0]
            self.console.print(f"{description}: started" + (f" (0/{total:g})" if total else ""), markup=False, highlight=False)

    def _plain_update(self, key: str, advance: float, completed: Optional[float], fields: dict[str, object]) -> None:
        st = self._plain_state.get(key)
        if st is None:
            return
        st[2] = completed if completed is not None else st[2] + advance
        if "description" in fields:
            st[0] = fields["description"]
        total = fields.get("total", st[1])
        st[1] = total
        if not total:
            return
        tenth = int(10 * st[2] / float(total))  # type: ignore[arg-type]
        if tenth > st[3]:
            st[3] = tenth
            info = "  ".join(f"{k}={_fmt(v)}" for k, v in fields.items() if k not in ("total", "description"))
            self.console.print(f"{st[0]}: {st[2]:g}/{total:g}" + (f"  {info}" if info else ""), markup=False, highlight=False)

    def update(self, key: str, advance: float = 1, completed: Optional[float] = None, **fields: object) -> None:
        if key not in self.tasks:
            return
        if self.plain:
            self._plain_update(key, advance, completed, dict(fields))
        kw: dict[str, Any] = {}
        if completed is not None:
            kw["completed"] = completed
        else:
            kw["advance"] = advance
        if "total" in fields:
            kw["total"] = fields.pop("total")
        if "description" in fields:
            kw["description"] = fields.pop("description")
        if fields:
            kw["info"] = "  ".join(f"{k}={_fmt(v)}" for k, v in fields.items())
        self.progress.update(self.tasks[key], **kw)

    def done(self, key: str) -> None:
        if key in self.tasks:
            task = self.progress.tasks[self.tasks[key]]
            if task.total is None:
                self.progress.update(self.tasks[key], total=1, completed=1)

    def note(self, message: str) -> None:
        if self.enabled:
            self.console.print(message, markup=False, highlight=False)


def _fmt(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


@dataclass
class Ctx:
    """What a command body gets: validated global options and output helpers."""

    config_path: Optional[Path]
    runs_dir: Path
    seed: Optional[int]
    device: Optional[str]
    sets: list[str]
    json_out: bool
    quiet: bool
    console: Console
    reporter: RichReporter

    def load(self, **extra: Any) -> RunConfig:
        """The run config: defaults < run file < command-line options."""
        overrides: dict[str, Any] = {}
        for item in self.sets:
            key, value = parse_set(item)
            overrides[key] = value
        if self.seed is not None:
            overrides["seed"] = self.seed
        if self.device is not None:
            overrides["device"] = self.device
        overrides.update({k: v for k, v in extra.items() if v is not None})
        return load_config(self.config_path, overrides)

    def print(self, *args: Any, **kw: Any) -> None:
        if not self.quiet:
            self.console.print(*args, **kw)


ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="TOML run file (see examples.toml).", envvar="LAZY_CONFIG", show_default=False),
]
RunsDirOpt = Annotated[Path, typer.Option("--runs-dir", help="Where datasets and runs live.", envvar="LAZY_RUNS_DIR")]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="Seed for Python, NumPy and torch.", show_default=False)]
DeviceOpt = Annotated[Optional[str], typer.Option("--device", help="auto | cpu | cuda.", show_default=False)]
SetOpt = Annotated[
    Optional[list[str]],
    typer.Option("--set", help="Override a run-file value: --set data.correlation=0.9 (repeatable).", show_default=False),
]
# the same options, left out of --help: a command that would ignore one refuses it (and reads no LAZY_CONFIG)
_HIDDEN = {
    "config": Annotated[Optional[Path], typer.Option("--config", "-c", hidden=True, show_default=False)],
    "seed": Annotated[Optional[int], typer.Option("--seed", hidden=True, show_default=False)],
    "device": Annotated[Optional[str], typer.Option("--device", hidden=True, show_default=False)],
    "set_": Annotated[Optional[list[str]], typer.Option("--set", hidden=True, show_default=False)],
}
_FLAG = {"config": "--config", "seed": "--seed", "device": "--device", "set_": "--set"}
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout (results and paths).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or tables.")]

_COMMON = {
    "config": (ConfigOpt, None),
    "runs_dir": (RunsDirOpt, Path("runs")),
    "seed": (SeedOpt, None),
    "device": (DeviceOpt, None),
    "set_": (SetOpt, None),
    "json_out": (JsonOpt, False),
    "quiet": (QuietOpt, False),
}


# every top-level key of the run file: what a command that reads the whole run file declares
RUN_FILE_KEYS: tuple[str, ...] = tuple(RunConfig.model_fields)
# per command: the run-file keys it reads and the global options it refuses (option -> the line refusing it)
READS: dict[str, tuple[str, ...]] = {}
REFUSED: dict[str, dict[str, str]] = {}


def reads_key(reads: tuple[str, ...], key: str) -> bool:
    """Whether a command reading ``reads`` (keys or sections, e.g. ``seed``, ``eval``, ``eval.batch_size``) reads ``key``."""
    return any(key == p or key.startswith(p + ".") for p in reads)


def _shown(key: str) -> str:
    ann = RunConfig.model_fields[key].annotation if key in RunConfig.model_fields else None
    table = isinstance(ann, type) and issubclass(ann, BaseModel) or getattr(ann, "__origin__", None) is dict
    return f"{key}.*" if table else key


def _refused(name: str, reads: tuple[str, ...], why: dict[str, str]) -> dict[str, str]:
    """The global options ``lazy name`` would ignore -> the one line refusing each."""
    why = dict(why)
    if not reads:
        for opt in _FLAG:
            why.setdefault(opt, "it reads no run-file value")
    for opt in ("seed", "device"):
        if not reads_key(reads, opt):
            why.setdefault(opt, f"it does not read the run file's `{opt}`")
    return {opt: f"lazy {name} does not take {_FLAG[opt]}: {reason}" for opt, reason in why.items()}


def _check_global_options(name: str, opts: dict[str, Any]) -> None:
    """Refuse a global option ``lazy name`` would ignore, and a ``--set`` of a run-file key it does not read."""
    for opt, line in REFUSED[name].items():
        if opts[opt] not in (None, []):
            raise UsageError(line)
    reads = READS[name]
    for item in opts["set_"] or []:
        key, _ = parse_set(item)
        if key.split(".")[0] in RUN_FILE_KEYS and not reads_key(reads, key):
            raise UsageError(f"lazy {name} does not read {key} (--set {item}); the run-file keys it reads: "
                             + ", ".join(_shown(k) for k in reads))


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def lazy_command(app: typer.Typer, name: str, reads: tuple[str, ...] = RUN_FILE_KEYS, refuses: Optional[dict[str, str]] = None,
                 **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(ctx, **own_options) -> dict`` as a command with the global options added.

    ``reads``: the run-file keys the command reads (top-level keys or dotted prefixes). A global option it would
    ignore is refused, one line and exit 2, never dropped silently: ``--seed`` or ``--device`` when it reads no
    ``seed`` or ``device``, ``--config`` and ``--set`` when it reads nothing, ``--set KEY`` for a key outside
    ``reads``, and the options in ``refuses`` (option name -> why). Refused options are left out of ``--help``, and
    a refused ``--config`` reads no ``LAZY_CONFIG``.

    The returned dict is printed as JSON with ``--json``. ``LazyError`` becomes one
    red line and its exit code (1 runtime, 2 usage); nothing prints a traceback
    unless ``LAZY_DEBUG=1``. A returned ``{"ok": False, "error": ...}`` (a check that ran and failed) exits 1.
    Every failure prints ``{"ok": false, "error": [lines], "exit_code": n}`` with ``--json``.
    """
    READS[name] = tuple(reads)
    REFUSED[name] = _refused(name, tuple(reads), refuses or {})

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn)
        own = [p for p in sig.parameters.values() if p.name != "ctx"]
        annotations = {n: _HIDDEN[n] if n in REFUSED[name] else a for n, (a, _) in _COMMON.items()}
        common = [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=annotations[n])
            for n, (_, d) in _COMMON.items()
        ]

        @functools.wraps(fn)
        def wrapper(**kw: Any) -> None:
            opts = {n: kw.pop(n) for n in _COMMON}
            err = Console(stderr=True, highlight=False)
            console = Console(stderr=True, quiet=opts["quiet"])
            device = opts["device"]
            try:
                _check_global_options(name, opts)
                if device is not None and device not in ("auto", "cpu", "cuda"):
                    raise UsageError(f"--device must be auto, cpu or cuda, got {device!r}")
            except LazyError as exc:
                _fail(err, opts["json_out"], exc)
            reporter = RichReporter(console, enabled=not opts["quiet"])
            ctx = Ctx(
                opts["config"], opts["runs_dir"], opts["seed"], device, list(opts["set_"] or []),
                opts["json_out"], opts["quiet"], console, reporter,
            )
            try:
                with reporter:
                    result = fn(ctx, **kw)
            except typer.Exit:
                raise
            except LazyError as exc:
                _fail(err, opts["json_out"], exc)
            except KeyboardInterrupt:
                _fail(err, opts["json_out"], _Interrupted("interrupted: nothing half-written is kept"))
            except Exception as exc:  # a bug: one line, traceback only on request
                if os.environ.get("LAZY_DEBUG"):
                    traceback.print_exc()
                _fail(err, opts["json_out"], LazyError(
                    f"unexpected {type(exc).__name__}: {exc} (a bug in lazy; rerun with LAZY_DEBUG=1 for the traceback)"
                ))
            failed = isinstance(result, dict) and result.get("ok") is False
            if failed:  # a check that ran and failed: its lines, its results, exit 1
                error = result.get("error") or f"{name} failed"
                result = {**result, "error": [str(x) for x in error] if isinstance(error, list) else [str(error)],
                          "exit_code": 1}
                for line in result["error"]:
                    err.print(f"[bold red]error:[/bold red] {escape(line)}", soft_wrap=True)
            if opts["json_out"]:
                emit_json(result if result is not None else {"ok": True})
            if failed:
                raise typer.Exit(1)

        wrapper.__signature__ = sig.replace(parameters=own + common)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {**{p.name: p.annotation for p in own}, **annotations}
        app.command(name, **kwargs)(wrapper)
        return fn

    return deco


class _Interrupted(LazyError):
    exit_code = 130  # Ctrl-C


def _fail(err: Console, json_out: bool, exc: LazyError) -> None:
    problems = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
    for line in problems:
        err.print(f"[bold red]error:[/bold red] {escape(line)}", soft_wrap=True, highlight=False)
    if json_out:
        emit_json({"ok": False, "error": problems, "exit_code": exc.exit_code})
    raise typer.Exit(exc.exit_code)
