"""``lazy study``, ``lazy sweep``, ``lazy report`` and ``lazy runs``."""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from ..config import parse_set
from ..errors import UsageError
from ..pipeline.listing import list_runs
from ..pipeline.report import run_report
from ..pipeline.study import run_study
from .common import RUN_FILE_KEYS, Ctx, lazy_command

app = typer.Typer()


@lazy_command(app, "study", help="Run the whole study of a run file (data, training, every analysis, report); resumable.")
def study(
    ctx: Ctx,
    run_file: Annotated[Optional[Path], typer.Argument(help="TOML run file (same as --config).", show_default=False)] = None,
    seeds: Annotated[Optional[int], typer.Option("--seeds", help="Seeds per strategy (study.seeds).", show_default=False)] = None,
) -> dict[str, Any]:
    if run_file is not None:
        if ctx.config_path is not None and ctx.config_path != run_file:
            raise UsageError("give the run file once: as the argument or as --config, not both")
        ctx.config_path = run_file
    cfg = ctx.load(**{"study.seeds": seeds})
    res = run_study(cfg, ctx.runs_dir, reporter=ctx.reporter)
    table = Table(title=f"study: {len(res['runs'])} runs, {res['seconds']:.0f} s")
    for col in ("step", "target", "status", "seconds"):
        table.add_column(col, justify="right" if col == "seconds" else "left")
    for s in res["steps"]:
        table.add_row(s["step"], s["target"], s["status"], f"{s['seconds']:.1f}")
    ctx.print(table)
    ctx.print(f"report: {res['report']}")
    return res


@lazy_command(app, "sweep", reads=tuple(k for k in RUN_FILE_KEYS if k != "seed"), refuses={
    "config": "it takes its run file from the sweep file's `base`",
    "seed": "put seeds on an axis of the sweep file (seed = [0, 1, 2])"}, help="Run a grid of runs described by a sweep file, here or on a Ray cluster; resumable.")
def sweep(
    ctx: Ctx,
    sweep_file: Annotated[Path, typer.Argument(help="TOML sweep file (axes over run-file keys; see docs/commands.md).")],
    executor: Annotated[str, typer.Option("--executor", help="local | process | ray.")] = "local",
    workers: Annotated[int, typer.Option("--workers", help="Points run at once (process, ray).")] = 1,
    address: Annotated[Optional[str], typer.Option("--address", help="Ray cluster address (default: a local Ray).",
                                                   show_default=False)] = None,
    only: Annotated[Optional[list[str]], typer.Option(
        "--only", help="KEY=V1,V2: keep the points whose axis KEY has one of these values (repeatable), "
        "e.g. --only data.protocol=decoy,texture --only seed=0.", show_default=False)] = None,
    defaults_only: Annotated[bool, typer.Option(
        "--defaults-only", help="In a sweep file with tune = true: each point's default configuration only, without "
        "the other configurations of its tuning grid (the same run names as in the full sweep).")] = False,
    collect: Annotated[bool, typer.Option(
        "--collect", help="Train nothing: write the results of the points already trained and evaluated (the others "
        "are listed as pending), e.g. to commit a long sweep's finished points while it runs.")] = False,
) -> dict[str, Any]:
    from ..executors import EXECUTORS
    from ..pipeline.sweep import run_sweep
    from ..pipeline.sweep_file import load_sweep

    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    extra: dict[str, Any] = {}
    for item in ctx.sets:
        key, value = parse_set(item)
        extra[key] = value
    if ctx.device is not None:
        extra["device"] = ctx.device
    subset: dict[str, list[str]] = {}
    for item in only or []:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise UsageError(f"--only {item!r}: expected KEY=V1,V2 (e.g. data.protocol=decoy,texture)")
        subset.setdefault(key.strip(), []).extend(v.strip() for v in values.split(","))
    sw = load_sweep(sweep_file, extra, subset, defaults_only=defaults_only)
    res = run_sweep(sw, ctx.runs_dir, executor=executor, workers=workers, address=address, reporter=ctx.reporter,
                    collect=collect)
    how = "collected" if res.get("collected") else f"{res['executor']} x{res['workers']}, {res['seconds']:.0f} s"
    table = Table(title=f"sweep {sw.spec.name}: {len(res['points'])} points, {how}")
    axis_cols = [k for k in sw.keys]
    for col in ["run", *axis_cols, "status", "val", "easy test", "hard test", "seconds"]:
        table.add_column(col, justify="left" if col in ("run", "status") else "right")
    for r in res["points"]:
        def pct(v: Any) -> str:
            return "-" if v is None else f"{100 * v:.1f}%"
        table.add_row(r["run"], *(str(r.get(f"axis:{k}", "")) for k in axis_cols), r["status"], pct(r["val"]),
                      pct(r["test_easy"]), pct(r["test_hard"]), f"{r['seconds']:.1f}")
    ctx.print(table)
    for key, path in res["paths"].items():
        if path:
            ctx.print(f"  {key}: {path}")
    failed = [r["run"] for r in res["points"] if r["status"] == "failed"]
    if failed:
        res["error"] = f"{len(failed)} of {len(res['points'])} sweep points failed: {', '.join(failed[:5])}" + (" ..." if len(failed) > 5 else "")
    return res


@lazy_command(app, "report", reads=tuple(k for k in RUN_FILE_KEYS if k != "device"), help="Write the Markdown study report from what the runs stored.")
def report(
    ctx: Ctx,
    results: Annotated[Optional[Path], typer.Option(
        "--results", help="Read the runs from this folder (a runs directory, or the compact copy `lazy export` writes, "
        "e.g. results/) instead of --runs-dir; the report is still written under --runs-dir.", show_default=False)] = None,
) -> dict[str, Any]:
    cfg = ctx.load()
    res = run_report(cfg, results if results is not None else ctx.runs_dir, reporter=ctx.reporter,
                     out_dir=ctx.runs_dir / cfg.report.dir if results is not None else None)
    table = Table(title=f"report: {res['path']}")
    table.add_column("section")
    table.add_column("numbers", justify="right")
    table.add_column("not run", justify="right")
    for sec in res["sections"]:
        n = sum(1 for x in res["numbers"] if x["section"] == sec["title"])
        table.add_row(sec["title"], str(n), str(len(sec["not_run"])))
    ctx.print(table)
    return res


@lazy_command(app, "runs", reads=(), help="List the trained runs: model, strategy, seed, epochs, accuracies, analyses present.")
def runs(ctx: Ctx) -> dict[str, Any]:
    rows = list_runs(ctx.runs_dir)
    table = Table(title=f"{len(rows)} runs in {ctx.runs_dir}")
    for col in ("run", "model", "strategy", "input", "seed", "epochs", "rule", "easy val", "easy test", "hard test", "analyses"):
        table.add_column(col, justify="right" if col in ("seed", "epochs", "easy val", "easy test", "hard test") else "left")
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    for r in rows:
        table.add_row(r["run"], str(r["model"]), str(r["strategy"]), r["input"], str(r["seed"]), str(r["epochs"]), r["select"],
                      pct(r["val"]), pct(r["test_easy"]), pct(r["test_hard"]), ", ".join(r["analyses"]) or "-")
    ctx.print(table)
    return {"ok": True, "runs": rows}
