"""``lazy train``."""

from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from ..models import MODELS
from ..pipeline.train import run_train
from ..strategies import STRATEGIES
from .common import Ctx, lazy_command

app = typer.Typer()


@lazy_command(app, "train", reads=("seed", "device", "data", "train", "strategy"), help="Train a model with a strategy (erm, consistency, ...) on the Colored-MNIST dataset.")
def train(
    ctx: Ctx,
    strategy: Annotated[Optional[str], typer.Option("--strategy", help=f"Training strategy (train.strategy): {' | '.join(sorted(STRATEGIES))}.", show_default=False)] = None,
    model: Annotated[Optional[str], typer.Option("--model", help=f"Model (train.model): {' | '.join(sorted(MODELS))}.", show_default=False)] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Run name (train.name); default <model>-<strategy>-s<seed>.", show_default=False)] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", help="Epochs (train.epochs).", show_default=False)] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Dataset name (train.dataset).", show_default=False)] = None,
    input: Annotated[Optional[str], typer.Option("--input", help="rgb | colorblind (the oracle: the bias colour, stroke or background, set to one colour) | grayscale (legacy, not colour-blind) (train.input).", show_default=False)] = None,
    select: Annotated[Optional[str], typer.Option("--select", help="Checkpoint rule: auto | val | val-recolored | val-worst-group | val-pseudo-group | val-proxy-group | last (train.select; never hard data).", show_default=False)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from last.pt.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing run of that name.")] = False,
) -> dict[str, Any]:
    cfg = ctx.load(**{
        "train.strategy": strategy, "train.model": model, "train.name": name,
        "train.epochs": epochs, "train.dataset": dataset, "train.input": input, "train.select": select,
    })
    res = run_train(cfg, ctx.runs_dir, resume=resume, force=force, reporter=ctx.reporter)
    table = Table(title=f"run {res.name}: best epoch {res.best_epoch} (selected on {res.best.get('rule', 'val')})")
    for col in ("", "train (easy)", "val (easy)", "val recoloured", "test_hard (monitor)"):
        table.add_column(col, justify="right")
    for label, row in (("best", res.best), ("last", res.last)):
        hard = row.get("hard_acc_monitor")
        table.add_row(label, f"{row.get('train_acc', float('nan')):.4f}", f"{row.get('val_acc', float('nan')):.4f}",
                      f"{row.get('val_recolored_acc', float('nan')):.4f}", "-" if hard is None else f"{hard:.4f}")
    ctx.print(table)
    ctx.print(f"{res.epochs_run} epochs, {res.images_per_second:,.0f} training images/s; run stored in {res.run_dir}")
    return {
        "ok": True,
        "run": res.name,
        "run_dir": str(res.run_dir),
        "best_epoch": res.best_epoch,
        "best": res.best,
        "last": res.last,
        "seconds": round(res.seconds, 3),
        "images_per_second": round(res.images_per_second, 1),
        "paths": res.paths,
    }
