"""``lazy eval`` and ``lazy counterfactual``."""

from typing import Annotated, Any

import typer
from rich.table import Table

from ..pipeline.evaluate import run_counterfactual, run_eval
from .common import Ctx, lazy_command

app = typer.Typer()

RunsArg = Annotated[list[str], typer.Argument(help="Run names under the runs directory.", show_default=False)]


@lazy_command(app, "eval", reads=("seed", "device", "eval"), help="Evaluate runs on train/val/test_easy/test_hard: per class, confusion, failures.")
def evaluate(ctx: Ctx, runs: RunsArg) -> dict[str, Any]:
    cfg = ctx.load()
    res = run_eval(cfg, ctx.runs_dir, runs, reporter=ctx.reporter)
    table = Table(title="accuracy (best checkpoint, chosen by each run's rule without hard data)")
    for col in ("run", "Easy train", "Easy val", "Easy test", "Hard test", "solid-colour conf.", "solid follows palette"):
        table.add_column(col, justify="right" if col != "run" else "left")
    for name, r in res.items():
        cr = r["color_reliance"]  # None for the colour-blind oracle (a solid patch has no digit to recolour)
        table.add_row(name, *(f"{100 * r[s]:.2f}%" for s in ("train", "val", "test_easy", "test_hard")),
                      f"{cr['solid_confidence']:.3f}" if cr else "-", f"{100 * cr['solid_follows_palette']:.0f}%" if cr else "-")
    ctx.print(table)
    for name, r in res.items():
        pc = Table(title=f"{name}: per-class accuracy")
        pc.add_column("split")
        for k in range(10):
            pc.add_column(str(k), justify="right")
        for split in ("test_easy", "test_hard"):
            pc.add_row(split, *(f"{100 * r['per_class'][split][str(k)]:.0f}" for k in range(10)))
        ctx.print(pc)
        worst = list(r["class_drop_easy_to_hard"].items())[:3]
        ctx.print("largest easy->hard drops: " + ", ".join(f"class {k} ({100 * v:.0f} points)" for k, v in worst))
        for key, path in r["paths"].items():
            ctx.print(f"  {key}: {path}")
    return {"ok": True, "runs": res}


@lazy_command(app, "counterfactual", reads=("seed", "device", "eval.batch_size", "counterfactual"),
              help="Recolour correctly classified easy images to every other class colour.")
def counterfactual(ctx: Ctx, runs: RunsArg) -> dict[str, Any]:
    cfg = ctx.load()
    res = run_counterfactual(cfg, ctx.runs_dir, runs, reporter=ctx.reporter)
    table = Table(title="counterfactual recolouring of correctly classified test_easy images")
    for col in ("run", "images", "recoloured", "follows new colour", "keeps true digit", "other"):
        table.add_column(col, justify="right" if col != "run" else "left")
    for name, r in res.items():
        if not r.get("n_images"):
            table.add_row(name, "0", "-", "-", "-", "-")
            continue
        table.add_row(name, str(r["n_images"]), str(r["n_recolored"]), f"{100 * r['follows_new_color']:.1f}%",
                      f"{100 * r['keeps_true_label']:.1f}%", f"{100 * r['other']:.1f}%")
    ctx.print(table)
    for name, r in res.items():
        pc = Table(title=f"{name}: by new colour")
        pc.add_column("colour")
        pc.add_column("follows", justify="right")
        pc.add_column("keeps digit", justify="right")
        for color, v in r.get("per_color", {}).items():
            pc.add_row(color, f"{100 * v['follows_color']:.1f}%", f"{100 * v['keeps_label']:.1f}%")
        ctx.print(pc)
        for p in r.get("paths", {}).get("figures", []):
            ctx.print(f"  figure: {p}")
    return {"ok": True, "runs": res}
