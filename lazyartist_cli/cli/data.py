"""``lazy make-data`` and ``lazy verify-data``."""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from ..data.build import SPLITS
from ..pipeline.data import run_make_data, run_verify_data
from .common import Ctx, lazy_command

app = typer.Typer()

NameOpt = Annotated[Optional[str], typer.Option("--name", help="Dataset name (data.name).", show_default=False)]
MnistDirOpt = Annotated[
    Optional[Path], typer.Option("--mnist-dir", help="Directory with the four MNIST IDX files (data.mnist_dir).", show_default=False)
]


def _fraction_table(title: str, meta_or_stats: dict[str, Any], targets: dict[str, float]) -> Table:
    table = Table(title=title)
    for col in ("split", "n", "aligned fraction", "target", "ok"):
        table.add_column(col, justify="right" if col != "split" else "left")
    for split in SPLITS:
        s = meta_or_stats[split]
        frac = s.get("aligned_fraction")
        ok = s.get("ok")
        table.add_row(
            split, str(s.get("n", "")), "-" if frac is None else f"{frac:.4f}", f"{targets[split]:.2f}",
            "" if ok is None else ("[green]yes[/green]" if ok else "[red]NO[/red]"),
        )
    return table


@lazy_command(app, "make-data", reads=("seed", "data"), help="Build the biased Colored-MNIST dataset from real MNIST.")
def make_data(
    ctx: Ctx,
    name: NameOpt = None,
    mnist_dir: MnistDirOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing dataset built with another config.")] = False,
) -> dict[str, Any]:
    cfg = ctx.load(**{"data.name": name, "data.mnist_dir": str(mnist_dir) if mnist_dir else None})
    res = run_make_data(cfg, ctx.runs_dir, force=force, reporter=ctx.reporter)
    meta = res.metadata
    stats = {s: {"n": meta["sizes"][s], "aligned_fraction": meta["measured_aligned_fraction"][s]} for s in SPLITS}
    ctx.print(_fraction_table(f"dataset {meta['name']} ({meta['protocol']}, seed {meta['seed']})", stats, meta["target_aligned_fraction"]))
    if res.built:
        ctx.print(f"built in {res.seconds:.1f}s -> {res.dataset_dir}")
    return {
        "ok": True,
        "dataset": meta["name"],
        "dataset_dir": str(res.dataset_dir),
        "built": res.built,
        "seconds": round(res.seconds, 3),
        "sizes": meta["sizes"],
        "aligned_fraction": meta["measured_aligned_fraction"],
        "paths": res.paths,
    }


@lazy_command(app, "verify-data", reads=("data.name",), help="Re-read a dataset, check hashes and correlations, draw sample grids.")
def verify_data(
    ctx: Ctx,
    name: NameOpt = None,
    grids: Annotated[bool, typer.Option("--grids/--no-grids", help="Save 10x10 sample grids per split.")] = True,
) -> dict[str, Any]:
    cfg = ctx.load(**{"data.name": name})
    res = run_verify_data(cfg, ctx.runs_dir, grids=grids, reporter=ctx.reporter)
    targets = {s: res.splits[s].get("target", 0.0) for s in SPLITS}
    ctx.print(_fraction_table(f"verify {cfg.data.name}", res.splits, targets))
    checks = Table(title="checks per split")
    names = ["sha256", "aligned_fraction", "per_class_aligned", "counter_colors_uniform", "label_balance"]
    checks.add_column("split")
    for n in names:
        checks.add_column(n)
    for split in SPLITS:
        c = res.splits[split].get("checks", {})
        checks.add_row(split, *[("-" if n not in c else ("[green]ok[/green]" if c[n] else "[red]FAIL[/red]")) for n in names])
    ctx.print(checks)
    for split, path in res.grids.items():
        ctx.print(f"sample grid {split}: {path}")
    ctx.print("[green]dataset verified[/green]" if res.ok else "[red]dataset FAILED verification[/red]")
    failing = [f"{split}: {', '.join(k for k, v in st.get('checks', {}).items() if not v)}"
               for split, st in res.splits.items() if not st.get("ok")]
    out = {
        "ok": res.ok,
        "dataset_dir": str(res.dataset_dir),
        "splits": res.splits,
        "hashes_ok": res.hashes_ok,
        "paths": {"grids": res.grids},
    }
    if not res.ok:  # a failed check: lazy_command prints it and exits 1
        out["error"] = f"dataset {cfg.data.name!r} failed verification ({'; '.join(failing)})"
    return out
