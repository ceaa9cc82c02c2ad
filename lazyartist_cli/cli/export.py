"""``lazy export``: a runs directory's compact results into a folder to commit."""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..pipeline.export import run_export
from .common import Ctx, lazy_command

app = typer.Typer()


@lazy_command(app, "export", reads=("report.dir",), help="Copy the runs' compact results (configs, histories, JSON results; no checkpoints or "
              "figures) into a folder that `lazy report --results` reads.")
def export(
    ctx: Ctx,
    dest: Annotated[Path, typer.Argument(help="Folder to write (e.g. results/); created; each run in it is replaced whole.")],
    only: Annotated[Optional[list[str]], typer.Option(
        "--only", help="PATTERN: export the folders whose path under the runs directory matches (repeatable), "
        "e.g. --only 'lazy-cnn-*' --only 'sweeps/lffrepro'.", show_default=False)] = None,
) -> dict[str, Any]:
    res = run_export(ctx.runs_dir, dest, only=only, report_dir=ctx.load().report.dir)
    ctx.print(f"exported {len(res['folders'])} folders, {res['n_files']} files, {res['bytes'] / 1e6:.1f} MB to {res['dest']}")
    return res
