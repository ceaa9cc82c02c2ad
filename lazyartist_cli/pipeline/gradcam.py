"""``gradcam``: attribution maps (Grad-CAM, saliency, SmoothGrad, IG) and where they fall."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch

from ..config import GradcamConfig, RunConfig
from ..figures import to_hwc
from ..figures.histograms import score_histograms
from ..figures.overlays import comparison, component_grid, overlay_grid, three_panel
from ..interpret import ATTRIBUTIONS
from ..data.protocols import shortcut_kind
from ..interpret.chromatic import ISOTROPIC_SHARE, chromatic_share, color_components
from ..interpret.attention import DIFFUSE, LABELS, STROKE_FOCUSED, attention_scores
from ..interpret.base import Attribution
from ..metrics import bootstrap_ci
from ..results import ColorShare, GradcamSummary
from ..runs import write_json_atomic
from .common import LoadedRun, for_each_run, predict
from .reporter import SILENT, Reporter
from .splits import SplitCache


def make_attribution(g: GradcamConfig, seed: int) -> Attribution:
    return ATTRIBUTIONS[g.method].from_config(g, seed)


def batched(attr: Attribution, model, x: torch.Tensor, target: Optional[torch.Tensor], batch_size: int):
    maps, targets, logits = [], [], []
    layer = None
    for i in range(0, x.shape[0], batch_size):
        t = None if target is None else target[i : i + batch_size]
        r = attr(model, x[i : i + batch_size], t)
        maps.append(r.maps)
        targets.append(r.target)
        logits.append(r.logits)
        layer = r.layer
    return torch.cat(maps), torch.cat(targets), torch.cat(logits), layer


COLOR_FIGURE_IMAGES = 4


def color_share(run: LoadedRun, x: torch.Tensor, y: torch.Tensor, g: GradcamConfig, seed: int, out_dir: Path) -> ColorShare:
    """Each attribution of ``g.color_methods`` split into brightness and colour on the first
    ``g.color_share_images`` images of ``x`` (the predicted class explained): per-image chromatic shares,
    their mean with a bootstrap 95% CI, and a figure of both components side by side."""
    n = min(g.color_share_images, x.shape[0])
    opts = {"layer": g.layer, "samples": g.smoothgrad_samples, "sigma": g.smoothgrad_sigma, "seed": seed, "steps": g.ig_steps}
    methods: dict[str, Any] = {}
    shown: dict[str, tuple] = {}
    shown_share: dict[str, Any] = {}
    for m in g.color_methods:
        shares, first = [], None
        for i in range(0, n, g.batch_size):
            gray, chroma, _ = color_components(m, run.model, x[i : min(i + g.batch_size, n)], None, **opts)
            shares.append(chromatic_share(gray, chroma).cpu())
            if first is None:
                first = (gray[:COLOR_FIGURE_IMAGES].cpu().numpy(), chroma[:COLOR_FIGURE_IMAGES].cpu().numpy())
        share = torch.cat(shares)
        mean, lo, hi = bootstrap_ci(share, seed=seed)
        methods[m] = {"mean": mean, "ci95": [lo, hi], "per_image": [round(v, 5) for v in share.tolist()]}
        shown[m], shown_share[m] = first, share[:COLOR_FIGURE_IMAGES].numpy()
    k = min(COLOR_FIGURE_IMAGES, n)
    fig = component_grid(to_hwc(x[:k]), shown, shown_share, out_dir / "color_share.png",
                         suptitle=f"{run.name}: attribution along the gray axis (brightness) vs chromatic (colour), test_hard")
    result = {"run": run.name, "split": "test_hard", "n": n, "explained": "predicted class", "methods": methods,
              "isotropic_share": ISOTROPIC_SHARE, "bootstrap": {"resamples": 2000, "level": 0.95, "seed": seed},
              "figure": str(fig)}
    write_json_atomic(out_dir / "color_share.json", result)
    return result


def gradcam_run(run: LoadedRun, cache: SplitCache, cfg: RunConfig, reporter: Reporter) -> GradcamSummary:
    g = cfg.gradcam
    attr = make_attribution(g, cfg.seed)
    dataset = run.config.get("train", {}).get("dataset") or cfg.data.name
    easy, meta, xe, ye = cache.get(dataset, "test_easy")
    hard, _, xh, yh = cache.get(dataset, "test_hard")
    names = meta.get("bias", {}).get("names") or meta["palette"]["names"]
    out_dir = run.path / "gradcam" / g.method
    method_title = attr.title
    target_all = None if g.target_class is None else torch.full((g.n_scores,), g.target_class, device=xh.device)

    # scores over n_scores test_hard images
    n = min(g.n_scores, xh.shape[0])
    maps, targets, logits, layer = batched(attr, run.model, xh[:n], None if target_all is None else target_all[:n], g.batch_size)
    probs = logits.softmax(1)
    scores = attention_scores(maps, hard.digits[:n])
    share, conc, lab = scores["stroke_share"].cpu(), scores["concentration"].cpu(), scores["label"].cpu()
    summary_scores = {
        "n": n,
        "stroke_share_mean": share.mean().item(),
        "stroke_share_ci95": list(bootstrap_ci(share, seed=cfg.seed)[1:]),
        "stroke_share_median": share.median().item(),
        "concentration_mean": conc.mean().item(),
        "proportions": {name: (lab == i).float().mean().item() for i, name in enumerate(LABELS)},
        "thresholds": {"stroke_focused_share": STROKE_FOCUSED, "diffuse_concentration": DIFFUSE},
    }
    paths: dict[str, Any] = {}
    paths["histogram"] = str(score_histograms(share.numpy(), conc.numpy(), f"{run.name}: {method_title} on test_hard",
                                              out_dir / "attention_scores.png"))

    # overlay grid of the first n_images
    k = min(g.n_images, n)
    preds = probs.argmax(1)
    titles = [f"#{i} y={int(yh[i])} p={int(preds[i])}\n{names[int(hard.colors[i])]} {share[i]:.2f}" for i in range(k)]
    paths["grid"] = str(overlay_grid(to_hwc(xh[:k]), maps[:k].cpu().numpy(), titles, out_dir / f"grid_test_hard_{k}.png",
                                     suptitle=f"{run.name}: {method_title} for the explained class (title: stroke share)"))
    panels = []
    for i in range(min(g.n_panels, k)):
        c = int(targets[i])
        title = f"{run.name} test_hard #{i}: true {int(yh[i])}, pred {int(preds[i])} ({100 * probs[i].max():.0f}%), map for class {c}"
        panels.append(str(three_panel(to_hwc(xh[i : i + 1])[0], maps[i].cpu().numpy(), title,
                                      out_dir / f"panel_test_hard_{i}_class{c}.png", method_title)))
    paths["panels"] = panels

    # biased vs conflicting: the same digit in test_easy (aligned, predicted right) and in test_hard
    with torch.no_grad():
        pe = predict(run.model, xe[:2000]).argmax(1)
    ok = torch.nonzero((pe == ye[:2000]) & (easy.colors[:2000].to(ye.device) == ye[:2000])).flatten()
    study = []
    rows = []
    for i in ok[:2].tolist():
        for split, x, y, ds in (("test_easy", xe, ye, easy), ("test_hard", xh, yh, hard)):
            xi = x[i : i + 1]
            r_pred = attr(run.model, xi, None)
            true = y[i : i + 1]
            r_true = attr(run.model, xi, true)
            p = r_pred.logits.softmax(1)[0]
            pred = int(p.argmax())
            kind = "biased" if split == "test_easy" else "conflicting"
            rows.append((to_hwc(xi)[0], [(r_pred.maps[0].cpu().numpy(), f"pred {pred} ({100 * p.max():.0f}%)"),
                                           (r_true.maps[0].cpu().numpy(), f"true {int(true)}")],
                         f"{kind}: {int(true)} in {names[int(ds.colors[i])]}"))
            study.append({"index": i, "split": split, "kind": kind, "label": int(true), "color": names[int(ds.colors[i])],
                          "predicted": pred, "confidence": float(p.max())})
    if rows:
        paths["biased_vs_conflicting"] = str(comparison(rows, out_dir / "biased_vs_conflicting.png",
                                                        suptitle=f"{run.name}: {method_title}, predicted vs true class"))
    if g.color_share_images > 0 and shortcut_kind(meta) != "colour":
        summary_scores["color_share"] = f"not applicable: the {meta.get('protocol')!r} protocol's shortcut is not colour"
    elif g.color_share_images > 0:
        cs = color_share(run, xh, yh, g, cfg.seed, run.path / "gradcam")
        paths["color_share"] = str(run.path / "gradcam" / "color_share.json")
        summary_scores["color_share"] = {m: {"mean": v["mean"], "ci95": v["ci95"]} for m, v in cs["methods"].items()}
    result = {
        "run": run.name, "method": g.method, "layer": layer, "scores": summary_scores,
        "hard_accuracy_on_scored": (preds == yh[:n]).float().mean().item(), "study": study, "paths": paths,
    }
    write_json_atomic(out_dir / "summary.json", result)
    paths["summary"] = str(out_dir / "summary.json")
    return result


def run_gradcam(cfg: RunConfig, runs_dir: Path, runs: list[str], reporter: Reporter = SILENT) -> dict[str, dict[str, Any]]:
    return for_each_run(cfg, runs_dir, runs, gradcam_run, reporter, f"{cfg.gradcam.method} maps", f"gradcam/{cfg.gradcam.method}", rgb_only="gradcam")
