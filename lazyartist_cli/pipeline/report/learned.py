"""Section 4 of the report, what the models learned: unit selectivity and colourness (``lazy probe``), where the
attributions fall (Grad-CAM stroke share) and how much of them is colour rather than brightness."""

from __future__ import annotations

from typing import Any, Optional

from ...interpret.attention import STROKE_FOCUSED
from ...metrics import intervals_overlap
from ...interpret.chromatic import LUMINANCE_SHARE
from .intervals import _base_proportion, _bootstrap_list, _proportion_cell, _separates, _share_cell
from .loader import ReportContext, RunFiles, _load
from .writer import Writer, _run_figures


def write_learned(ctx: ReportContext) -> None:
    w, files, base, first, method = ctx.w, ctx.files, ctx.base, ctx.first, ctx.cfg.gradcam.method
    w.h(2, "4. What the models learned")
    rows = []
    layers_seen: list[str] = []
    for sp in first:
        pr = files[sp.name].get("probe")
        if pr:
            for u in pr["units"]:
                if u["layer"] not in layers_seen:
                    layers_seen.append(u["layer"])
    for sp in first:
        pr = files[sp.name].get("probe")
        if pr:
            sh = pr["label_shares"]
            cells = []
            base_pr = files[base.name].get("probe") or {"units": []}
            for layer in layers_seen:
                vals = [u["colorness"] for u in pr["units"] if u["layer"] == layer and "colorness" in u]
                bvals = [u["colorness"] for u in base_pr["units"] if u["layer"] == layer and "colorness" in u]
                if vals:
                    ci = _bootstrap_list(vals)
                    sep = _separates(_bootstrap_list(bvals) if bvals else None, ci, sp.name == base.name)
                    cells.append(f"{ci[0]:.2f} [{ci[1]:.2f}, {ci[2]:.2f}]" + ("" if sep == "(baseline)" else f", separates: {sep}"))
                else:
                    cells.append("—")
            colour_units = [1.0 if u["label"] in ("colour", "polysemantic") else 0.0 for u in pr["units"]]
            ci = _bootstrap_list(colour_units) if colour_units else None
            bpr = files[base.name].get("probe")
            bci = _bootstrap_list([1.0 if u["label"] in ("colour", "polysemantic") else 0.0 for u in bpr["units"]]) if bpr and bpr["units"] else None
            for k in ("colour", "shape", "polysemantic", "weak/dead"):
                w.num(f"{sp.name}.probe.{k}", sh[k], files[sp.name].probe)
            b_labels = [u["label"] for u in (files[base.name].get("probe") or {"units": []})["units"]]
            rows.append([sp.name] + [_share_cell([u["label"] for u in pr["units"]], k, b_labels, sp.name == base.name)
                                     for k in ("colour", "shape", "polysemantic", "weak/dead")]
                        + ([f"{100 * ci[0]:.0f}% [{100 * ci[1]:.0f}, {100 * ci[2]:.0f}]", _separates(bci, ci, sp.name == base.name)] if ci else ["—", "—"])
                        + cells)
    if rows:
        w.p("**Selectivity of units** (`lazy probe`: share of probed units whose response variance is explained mostly by colour, by digit shape, by both, or by neither), "
            "and the mean *colourness* of their activation-maximisation images per layer (chromatic energy over chromatic plus edge "
            "energy: 1 = a flat colour patch, 0 = gray edges; bootstrap 95% CI over units):")
        w.p()
        w.table(["run", "colour", "shape", "polysemantic", "weak/dead", "reads colour (colour or polysem.)", "separates from baseline"]
                + [f"colourness {layer}" for layer in layers_seen], rows)
        for sp in first:
            pr = files[sp.name].get("probe")
            if pr and pr.get("paths", {}).get("grids"):
                w.p(f"Activation maximisation, `{sp.name}` (layer {pr['layers'][0]}):")
                w.p()
                w.fig(pr["paths"]["grids"][0], f"activation maximisation {sp.name}", 520)
    else:
        w.not_run("probe", f"lazy probe {' '.join(sp.name for sp in first)}")
    rows = []

    def stroke_ci(name: str) -> Optional[tuple[float, float, float]]:
        sc = (files[name].get("gradcam") or {}).get("scores", {})
        return (sc["stroke_share_mean"], *sc["stroke_share_ci95"]) if "stroke_share_ci95" in sc else None

    for sp in first:
        gc = files[sp.name].get("gradcam")
        if gc:
            sc, src = gc["scores"], files[sp.name].gradcam
            ci = stroke_ci(sp.name)
            rows.append([sp.name, str(sc["n"]), w.num(f"{sp.name}.gradcam.stroke_share_mean", sc["stroke_share_mean"], src, ".3f")
                         + (f" [{ci[1]:.3f}, {ci[2]:.3f}]" if ci else ""),
                         _separates(stroke_ci(base.name), ci, sp.name == base.name),
                         *(w.num(f"{sp.name}.gradcam.{k}", sc["proportions"][k], src)
                           and _proportion_cell(sc["proportions"][k], sc["n"], _base_proportion(files[base.name], k), sp.name == base.name)
                           for k in ("stroke", "diffuse", "background"))])
    if rows:
        w.p(f"**{method} on test_hard** (stroke share = fraction of the map's mass on the digit's stroke, mean with a bootstrap 95% CI "
            f"over images; a map is stroke-focused when that share is at least {STROKE_FOCUSED}; *separates* = the run's interval and the "
            "baseline's do not overlap):")
        w.p()
        w.table(["run", "images", "stroke share", "separates from baseline", "stroke-focused", "diffuse", "background"], rows)
        w.p("*What stroke share can and cannot show.* On these images the colour lives on the stroke: a model that reads the "
            "stroke's colour and one that reads the stroke's shape both put their map on the stroke, so a high stroke share does "
            "not mean shape and the baseline can score higher than a shape model. Stroke share can only show a model that looks "
            "at the background; colour against brightness is measured below. Grad-CAM is computed on the rectified output of the "
            "last convolution (the layer named in each run's `gradcam/<method>/summary.json`).")
        w.p()
        _run_figures(w, first, files, "gradcam", "biased_vs_conflicting", method)
        _color_share_section(w, first, files, base.name)
    else:
        w.not_run("Grad-CAM", f"lazy gradcam {' '.join(sp.name for sp in first)}")


def _color_share_section(w: Writer, runs: list[Any], files: dict[str, RunFiles], baseline: str) -> None:
    """Colour vs brightness: the chromatic share of each attribution with its bootstrap CI, and whether
    it separates each run from the baseline (the two 95% intervals do not overlap)."""
    stored = {sp.name: _load(files[sp.name].dir / "gradcam" / "color_share.json") for sp in runs}
    stored = {k: v for k, v in stored.items() if v}
    if not stored:
        w.not_run("colour vs brightness attribution", f"lazy gradcam {' '.join(sp.name for sp in runs)}")
        return
    methods = list(dict.fromkeys(m for v in stored.values() for m in v["methods"]))
    any_run = next(iter(stored.values()))
    w.p(f"**Colour vs brightness in the attributions** (test_hard, {any_run['n']} images, the predicted class explained). Every "
        "pixel's attribution is split into its part along the gray axis (brightness: R, G and B move together) and the orthogonal "
        "chromatic part (channel differences: hue, saturation); the *chromatic share* is the chromatic fraction of an image's "
        "attribution mass, averaged over images, with a bootstrap 95% CI over images. References for the gradient methods: 1 for a "
        "model that reads only channel differences, 0 for one that reads only the equal-weight channel mean (R + G + B) / 3, "
        f"{LUMINANCE_SHARE:.2f} for one that reads only Rec. 601 luminance, and {any_run['isotropic_share']:.2f} for a gradient "
        "with no preferred RGB direction; a low share means brightness only relative to these. "
        "`ig` has no such reference: with the black baseline its chromatic part is the pixel's own colour times the gradient, so "
        "weakly coloured pixels count as brightness whatever the model reads; compare `ig` between models only. `gradcam-x-gradient` carries "
        "the Grad-CAM map to the input by weighting the input gradient with it; `ig` splits the path from the black baseline into its "
        "gray and chromatic parts (`lazyartist_cli/interpret/chromatic.py`).")
    w.p()

    def cell(name: str, m: str) -> str:
        v = stored.get(name, {}).get("methods", {}).get(m)
        if not v:
            return "—"
        src = files[name].dir / "gradcam" / "color_share.json"
        return (w.num(f"{name}.color_share.{m}", v["mean"], src, ".3f") + f" [{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}]")

    w.table(["run"] + [f"{m} chromatic share" for m in methods], [[n] + [cell(n, m) for m in methods] for n in stored])
    base = stored.get(baseline)
    if base:
        rows = []
        for name, v in stored.items():
            if name == baseline:
                continue
            verdicts = []
            for m in methods:
                a, b = base["methods"].get(m), v["methods"].get(m)
                if a and b:
                    sep = not intervals_overlap((a["mean"], *a["ci95"]), (b["mean"], *b["ci95"]))
                    direction = "less colour" if b["mean"] < a["mean"] else "more colour"
                    verdicts.append(f"{'yes' if sep else 'no'} ({direction})")
                else:
                    verdicts.append("—")
            rows.append([name] + verdicts)
        if rows:
            w.p(f"Separates the run from the baseline `{baseline}` (95% intervals do not overlap):")
            w.p()
            w.table(["run"] + methods, rows)
    for name in (baseline, *[n for n in stored if n != baseline][:1]):
        if name in stored:
            w.fig(stored[name].get("figure"), f"colour vs brightness attribution {name}", 640)
