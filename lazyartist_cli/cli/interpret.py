"""``lazy gradcam`` and ``lazy probe``."""

from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from ..errors import UsageError
from ..pipeline.gradcam import run_gradcam
from ..pipeline.probe import run_probe
from .common import Ctx, lazy_command
from .evaluate import RunsArg

app = typer.Typer()


@lazy_command(app, "gradcam", reads=("seed", "device", "gradcam"), help="Grad-CAM (from scratch) and other attribution maps; stroke-mass scores.")
def gradcam(
    ctx: Ctx,
    runs: RunsArg,
    method: Annotated[Optional[str], typer.Option("--method", help="gradcam | saliency | smoothgrad | ig (gradcam.method).", show_default=False)] = None,
    layer: Annotated[Optional[str], typer.Option("--layer", help="Target layer name (default: last Conv2d).", show_default=False)] = None,
    target_class: Annotated[Optional[int], typer.Option("--target-class", help="Class to explain (default: predicted).", show_default=False)] = None,
    n_images: Annotated[Optional[int], typer.Option("--n-images", help="test_hard images drawn (gradcam.n_images).", show_default=False)] = None,
) -> dict[str, Any]:
    cfg = ctx.load(**{"gradcam.method": method, "gradcam.layer": layer, "gradcam.target_class": target_class,
                      "gradcam.n_images": n_images})
    res = run_gradcam(cfg, ctx.runs_dir, runs, reporter=ctx.reporter)
    table = Table(title=f"{cfg.gradcam.method}: where the maps fall on test_hard (stroke-focused: share >= 0.5; diffuse: 80% of mass on >= 50% of pixels)")
    for col in ("run", "layer", "images", "stroke share (mean)", "concentration (mean)", "stroke-focused", "diffuse", "background"):
        table.add_column(col, justify="left" if col in ("run", "layer") else "right")
    for name, r in res.items():
        s = r["scores"]
        p = s["proportions"]
        table.add_row(name, str(r["layer"] or "-"), str(s["n"]), f"{s['stroke_share_mean']:.3f}", f"{s['concentration_mean']:.3f}",
                      f"{100 * p['stroke']:.1f}%", f"{100 * p['diffuse']:.1f}%", f"{100 * p['background']:.1f}%")
    ctx.print(table)
    for name, r in res.items():
        for key, path in r["paths"].items():
            ctx.print(f"  {name} {key}: {path}")
    return {"ok": True, "runs": res}


@lazy_command(app, "probe", reads=("seed", "device", "probe"), help="Activation maximisation and colour/shape selectivity of units.")
def probe(
    ctx: Ctx,
    runs: RunsArg,
    layer: Annotated[Optional[list[str]], typer.Option("--layer", help="Layer name (repeatable; default: early, middle, late).", show_default=False)] = None,
    channels: Annotated[Optional[str], typer.Option("--channels", help="Comma-separated unit indices, e.g. 0,3,7.", show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Optimisation steps (probe.steps).", show_default=False)] = None,
) -> dict[str, Any]:
    chans = None
    if channels is not None:
        try:
            chans = [int(c) for c in channels.split(",") if c.strip()]
        except ValueError:
            raise UsageError(f"--channels must be comma-separated integers, got {channels!r}") from None
    cfg = ctx.load(**{"probe.layers": layer or None, "probe.channels": chans, "probe.steps": steps})
    res = run_probe(cfg, ctx.runs_dir, runs, reporter=ctx.reporter)
    for name, r in res.items():
        t = Table(title=f"{name}: units (colour/shape = share of response variance; label thresholds tau={r['thresholds']['tau']})")
        for col in ("layer", "unit", "objective", "colourness", "colour", "shape", "solid colour", "label"):
            t.add_column(col, justify="left" if col in ("layer", "label") else "right")
        for u in r["units"]:
            t.add_row(u["layer"], str(u["unit"]), f"{u['objective']:.2f}", f"{u.get('colorness', float('nan')):.2f}", f"{u['color_score']:.2f}", f"{u['shape_score']:.2f}",
                      f"{u['solid_color_score']:.2f}", u["label"])
        ctx.print(t)
    cmp_table = Table(title="share of probed units per label")
    cmp_table.add_column("run")
    for lab in ("colour", "shape", "polysemantic", "weak/dead"):
        cmp_table.add_column(lab, justify="right")
    for name, r in res.items():
        cmp_table.add_row(name, *(f"{100 * r['label_shares'][lab]:.0f}%" for lab in ("colour", "shape", "polysemantic", "weak/dead")))
    ctx.print(cmp_table)
    for name, r in res.items():
        ctx.print(f"  {name}: {r['paths']['csv']}  " + "  ".join(r["paths"]["grids"]))
    return {"ok": True, "runs": res}
