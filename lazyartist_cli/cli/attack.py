"""``lazy attack`` and ``lazy sae``."""

from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from ..pipeline.attack import run_attack
from ..pipeline.sae import run_sae
from .common import Ctx, lazy_command
from .evaluate import RunsArg

app = typer.Typer()


@lazy_command(app, "attack", reads=("seed", "device", "attack"), help="Targeted FGSM/PGD attacks (default 7 -> 3, eps 0.05) and success-vs-eps curves.")
def attack(
    ctx: Ctx,
    runs: RunsArg,
    eps: Annotated[Optional[float], typer.Option("--eps", help="L-inf budget (attack.eps).", show_default=False)] = None,
    source: Annotated[Optional[int], typer.Option("--source", help="Source class (attack.source_class).", show_default=False)] = None,
    target: Annotated[Optional[int], typer.Option("--target", help="Target class (attack.target_class).", show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="PGD steps (attack.steps).", show_default=False)] = None,
) -> dict[str, Any]:
    cfg = ctx.load(**{"attack.eps": eps, "attack.source_class": source, "attack.target_class": target, "attack.steps": steps})
    res = run_attack(cfg, ctx.runs_dir, runs, reporter=ctx.reporter)
    a = cfg.attack
    table = Table(title=f"targeted {a.source_class} -> {a.target_class}, eps {a.eps}, success = target with confidence >= {a.confidence}")
    for col in ("run", "method", "images", "success", "mean L-inf", "mean L2", "iters (mean/median)"):
        table.add_column(col, justify="left" if col in ("run", "method") else "right")
    for name, r in res.items():
        for method, m in r["methods"].items():
            its = "-" if m["iterations_mean"] is None else f"{m['iterations_mean']:.1f} / {m['iterations_median']:.0f}"
            table.add_row(name, method, str(m["n"]), f"{100 * m['success_rate']:.1f}%", f"{m['linf_mean']:.4f}", f"{m['l2_mean']:.3f}", its)
    ctx.print(table)
    sweep = Table(title="success rate vs eps")
    sweep.add_column("run / method")
    first = next(iter(res.values()))
    for e in first["sweep"]["eps"]:
        sweep.add_column(f"{e:g}", justify="right")
    for name, r in res.items():
        for method, rates in r["sweep"]["success"].items():
            sweep.add_row(f"{name} / {method}", *(f"{100 * v:.0f}%" for v in rates))
    ctx.print(sweep)
    for name, r in res.items():
        for key, path in r["paths"].items():
            ctx.print(f"  {name} {key}: {path}")
    return {"ok": True, "runs": res}


@lazy_command(app, "sae", reads=("seed", "device", "sae"), help="Train a sparse autoencoder on a hidden layer; label and intervene on its features.")
def sae(
    ctx: Ctx,
    runs: RunsArg,
    layer: Annotated[Optional[str], typer.Option("--layer", help="Layer (sae.layer; default: penultimate).", show_default=False)] = None,
    kind: Annotated[Optional[str], typer.Option("--kind", help="topk | l1 (sae.kind).", show_default=False)] = None,
    k: Annotated[Optional[int], typer.Option("--k", help="Latents kept by TopK (sae.k); given, it replaces the size/k sweep.",
                                             show_default=False)] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", help="SAE epochs (sae.epochs).", show_default=False)] = None,
) -> dict[str, Any]:
    cfg = ctx.load(**{"sae.layer": layer, "sae.kind": kind, "sae.k": k, "sae.epochs": epochs,
                      "sae.sweep_expansions": [] if k is not None else None})
    res = run_sae(cfg, ctx.runs_dir, runs, reporter=ctx.reporter)
    t = Table(title=f"SAE ({cfg.sae.kind}) on held-out val activations")
    for col in ("run", "layer", "latents", "k", "MSE", "expl. var.", "L0", "dead", "acc", "acc (reconstructed)", "colour", "shape",
                "polysem.", "unclear"):
        t.add_column(col, justify="left" if col in ("run", "layer") else "right")
    for name, r in res.items():
        m, sh = r["metrics"], r["label_shares"]
        t.add_row(name, r["layer"], str(r["latents"]), str(r.get("k", "-")), f"{m['mse']:.4f}", f"{m['explained_variance']:.3f}", f"{m['l0']:.1f}",
                  f"{100 * m['dead_fraction']:.0f}%", f"{100 * m['accuracy_val']:.1f}%", f"{100 * m['accuracy_val_reconstructed']:.1f}%",
                  *(f"{100 * sh[lab]:.0f}%" for lab in ("colour", "shape", "polysemantic", "unclear")))
    ctx.print(t)
    it = Table(title="interventions: share of flipped predictions (label@factor/split, pooled over features)")
    it.add_column("run")
    keys = sorted({k for r in res.values() for k in r["intervention_contrast"]})
    for key in keys:
        it.add_column(key, justify="right")
    for name, r in res.items():
        it.add_row(name, *(f"{100 * r['intervention_contrast'][key]['flip']['mean']:.1f}%" if key in r["intervention_contrast"] else "-"
                           for key in keys))
    ctx.print(it)
    for name, r in res.items():
        for key, path in r["paths"].items():
            ctx.print(f"  {name} {key}: {path}")
    return {"ok": True, "runs": res}
