"""``sae``: cache activations, train a sparse autoencoder, label and intervene on its features."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..config import RunConfig, SAEConfig
from ..errors import UsageError
from ..figures import to_hwc
from ..figures.confusion import image_panel
from ..interpret.counterfactual import every_colour
from ..interpret.hooks import find_layer, layer_outputs
from ..metrics import bootstrap_ci
from ..models import INFERENCE_BATCH
from ..results import SaeSummary
from ..runs import torch_save_atomic, write_json_atomic, write_text_atomic
from ..sae.analysis import FEATURE_LABELS, PURE, label_feature, purity, replace_layer_output, sae_metric_cis, sae_metrics
from ..sae.model import SparseAutoencoder, train_sae
from .common import LoadedRun, for_each_run, predict
from .reporter import SILENT, Reporter
from .splits import SplitCache


def penultimate_layer(model: nn.Module) -> str:
    """The leaf module just before the last Linear (its output is the Linear's input)."""
    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    last_linear = max(i for i, (_, m) in enumerate(leaves) if isinstance(m, nn.Linear))
    if last_linear == 0:
        raise UsageError("the model has no layer before its last Linear; pass --layer")
    return leaves[last_linear - 1][0]


def cache_activations(model: nn.Module, layer: str, x: torch.Tensor, batch_size: int = INFERENCE_BATCH) -> torch.Tensor:
    """The layer's output for every image, flattened to (N, d)."""
    return layer_outputs(model, layer, x, batch_size=batch_size)


@torch.no_grad()
def _probs(model: nn.Module, x: torch.Tensor, batch_size: int = INFERENCE_BATCH) -> torch.Tensor:
    return predict(model, x, batch_size).softmax(1)


def sweep_saes(acts_tr: torch.Tensor, acts_val: torch.Tensor, s: SAEConfig, seed: int,
               progress=None) -> tuple[list[dict[str, Any]], dict[str, Any], SparseAutoencoder]:
    """TopK SAEs over ``sweep_expansions`` x ``sweep_k`` (``epochs`` each), scored on held-out activations; the
    chosen point is the sparsest (smallest k, then the smallest size) that reaches ``ev_target`` with fewer than
    ``dead_target`` dead latents, else the one with the highest explained variance. Returns (rows, chosen row,
    chosen SAE)."""
    d = acts_tr.shape[1]
    widest = max(s.sweep_expansions)
    too_big = [k for k in s.sweep_k if k > d * widest]
    if too_big:  # a k no swept size can hold would be skipped without a word
        raise UsageError(f"sae.sweep_k: k = {too_big[0]} is larger than every swept SAE's latent count (at most {d * widest} = "
                         f"width {d} x expansion {widest}); drop it or add a larger expansion to sae.sweep_expansions")
    rows, saes = [], []
    for e in s.sweep_expansions:
        for k in s.sweep_k:
            if k > d * e:
                continue
            torch.manual_seed(seed)
            sae = SparseAutoencoder(d, e, "topk", k, aux_coef=s.aux_coef).to(acts_tr.device)
            losses = train_sae(sae, acts_tr, s.epochs, s.batch_size, s.lr, seed, dead_after=s.dead_after)
            m = sae_metrics(sae.eval(), acts_val)
            rows.append({"expansion": e, "latents": d * e, "k": k, **m, "train_loss_first": losses[0], "train_loss_last": losses[-1],
                         "meets": m["explained_variance"] >= s.ev_target and m["dead_fraction"] < s.dead_target})
            saes.append(sae)
            if progress:
                progress()
    if not rows:
        raise UsageError(f"no SAE sweep point fits: every k in sae.sweep_k exceeds the latent size of every expansion (width {d})")
    ok = [i for i, r in enumerate(rows) if r["meets"]]
    best = (min(ok, key=lambda i: (rows[i]["k"], rows[i]["latents"])) if ok
            else max(range(len(rows)), key=lambda i: rows[i]["explained_variance"]))
    return rows, rows[best], saes[best]


def _ci(values: torch.Tensor, seed: int) -> dict[str, Any]:
    mean, lo, hi = bootstrap_ci(values, seed=seed)
    return {"mean": mean, "ci95": [lo, hi], "n": int(values.numel())}


def sae_run(run: LoadedRun, cache: SplitCache, cfg: RunConfig, reporter: Reporter) -> SaeSummary:
    s = cfg.sae
    dataset = run.config.get("train", {}).get("dataset") or cfg.data.name
    layer = s.layer or penultimate_layer(run.model)
    module = find_layer(run.model, layer)
    _, meta, x_tr, _ = cache.get(dataset, "train")
    _, _, x_val, y_val = cache.get(dataset, "val")
    easy, _, xe, ye = cache.get(dataset, "test_easy")
    hard, _, xh, yh = cache.get(dataset, "test_hard")
    names = meta["palette"]["names"]
    palette = (torch.tensor(meta["palette"]["rgb"], dtype=torch.float32) / 255.0).to(xe.device)
    acts_tr = cache_activations(run.model, layer, x_tr)
    acts_val = cache_activations(run.model, layer, x_val)
    d = acts_tr.shape[1]
    out_dir = run.path / "sae"
    paths: dict[str, Any] = {}
    sweep, chosen = [], None
    # the sweep chooses on one half of val, the chosen SAE is scored on the other: a choice is never graded on its own data
    acts_sel, acts_val = acts_val[0::2], acts_val[1::2]
    if s.kind == "topk" and s.sweep_expansions and s.sweep_k:
        n_points = sum(k <= d * e for e in s.sweep_expansions for k in s.sweep_k)
        reporter.start(f"sae-{run.name}", f"{run.name}: SAE sweep", n_points)
        sweep, chosen, sae = sweep_saes(acts_tr, acts_sel, s, cfg.seed, lambda: reporter.update(f"sae-{run.name}", 1))
        losses = [chosen["train_loss_first"], chosen["train_loss_last"]]
        paths["sweep"] = str(sweep_figure(sweep, chosen, s.ev_target, out_dir / "sweep.png", f"{run.name}: SAE sweep ({layer})"))
    else:
        if s.kind == "topk" and s.k > d * s.expansion:
            raise UsageError(f"sae.k = {s.k} is larger than the latent size {d * s.expansion} ({d} x expansion {s.expansion})")
        torch.manual_seed(cfg.seed)
        sae = SparseAutoencoder(d, s.expansion, s.kind, s.k, s.l1, aux_coef=s.aux_coef).to(acts_tr.device)
        reporter.start(f"sae-{run.name}", f"{run.name}: SAE epochs", s.epochs)
        losses = train_sae(sae, acts_tr, s.epochs, s.batch_size, s.lr, cfg.seed, dead_after=s.dead_after,
                           progress=lambda e, l: reporter.update(f"sae-{run.name}", 1, loss=l))
    sae.eval()
    metrics = sae_metrics(sae, acts_val)  # held out: the SAE never saw val, and the sweep chose on the other half
    metrics["ci95"] = sae_metric_cis(sae, acts_val, seed=cfg.seed)
    base_acc = (_probs(run.model, x_val).argmax(1) == y_val).float().mean().item()
    with replace_layer_output(run.model, module, sae, error_term=False):
        recon_acc = (_probs(run.model, x_val).argmax(1) == y_val).float().mean().item()
    metrics.update({"accuracy_val": base_acc, "accuracy_val_reconstructed": recon_acc, "train_loss_first": losses[0],
                    "train_loss_last": losses[-1], "meets_targets": metrics["explained_variance"] >= s.ev_target
                    and metrics["dead_fraction"] < s.dead_target})

    # labels on the fully crossed grid: grid_digits test_easy digits per class, each in every palette colour
    idx = torch.cat([torch.nonzero(easy.labels == c).flatten()[: s.grid_digits] for c in range(10)])
    grid = every_colour(xe[idx.to(xe.device)], easy.digits[idx].to(xe.device), easy.colors[idx].to(xe.device), palette,
                        meta["protocol"])  # (n, K, 3, H, W)
    n_dig, n_col = grid.shape[:2]
    grid_x = grid.reshape(n_dig * n_col, *xe.shape[1:])
    grid_labels = easy.labels[idx].repeat_interleave(n_col)
    grid_colors = torch.arange(n_col).repeat(n_dig)
    with torch.no_grad():
        z = sae.encode(cache_activations(run.model, layer, grid_x))  # (P, m)
    freq = (z > 0).float().mean(0)
    live = torch.nonzero(freq > 0).flatten()
    order = live[freq[live].argsort(descending=True)][: s.n_features]
    dec = torch.nn.functional.normalize(sae.decoder.weight.detach(), dim=0)  # (d, m) unit columns
    features = []
    strip_imgs, strip_titles = [], []
    for f in order.tolist():
        top = z[:, f].topk(min(s.top_k, z.shape[0])).indices.cpu()
        cp, cmode = purity(grid_colors[top])
        dp, dmode = purity(grid_labels[top])
        label = label_feature(cp, dp)
        features.append({"feature": f, "frequency": freq[f].item(), "max_activation": z[:, f].max().item(),
                         "color_purity": cp, "top_color": names[cmode], "digit_purity": dp, "top_digit": dmode,
                         "label": label, "feature_class": cmode if label == "colour" else dmode})
        for j in top[: min(8, s.top_k)].tolist():
            strip_imgs.append(grid_x[j])
            strip_titles.append(f"f{f} {int(grid_labels[j])}/{names[int(grid_colors[j])]}")
    if strip_imgs:
        paths["feature_strips"] = str(image_panel(to_hwc(torch.stack(strip_imgs)), strip_titles, out_dir / "features_top_images.png",
                                                  cols=min(8, s.top_k), suptitle=f"{run.name}: top images of SAE features (rows), crossed grid"))

    # interventions on test_easy and test_hard: flip rate and probability shift toward the feature's class, with CIs
    splits = {"test_easy": xe[: s.n_intervention_images], "test_hard": xh[: s.n_intervention_images]}
    base_p = {sp: _probs(run.model, x) for sp, x in splits.items()}
    chosen_f = []
    for lab in ("colour", "shape"):
        group = sorted((f for f in features if f["label"] == lab), key=lambda f: -max(f["color_purity"], f["digit_purity"]))
        chosen_f += group[: s.n_interventions]
    interventions, pooled = [], {}
    for feat in chosen_f:
        c = feat["feature_class"]
        same = [g["feature"] for g in features if g["label"] == feat["label"] and g["feature_class"] == c and g["feature"] != feat["feature"]]
        others = [g for g in live.tolist() if g != feat["feature"]]
        max_cos = (dec[:, others].T @ dec[:, feat["feature"]]).max().item() if others else 0.0
        for factor in s.factors:
            entry = {"feature": feat["feature"], "label": feat["label"], "factor": factor, "feature_class": c,
                     "top_color": feat["top_color"], "top_digit": feat["top_digit"], "same_label_and_class": len(same),
                     "max_decoder_cosine": max_cos}
            for sp, x in splits.items():
                with replace_layer_output(run.model, module, sae, {feat["feature"]: factor}):
                    p = _probs(run.model, x)
                flips = (p.argmax(1) != base_p[sp].argmax(1)).float().cpu()
                shift = (p[:, c] - base_p[sp][:, c]).cpu()
                entry[sp] = {"flip": _ci(flips, cfg.seed), "shift_to_class": _ci(shift, cfg.seed)}
                pooled.setdefault((feat["label"], factor, sp), ([], []))
                pooled[(feat["label"], factor, sp)][0].append(flips)
                pooled[(feat["label"], factor, sp)][1].append(shift)
            interventions.append(entry)
    contrast = {}
    for (lab, factor, sp), (flips, shifts) in pooled.items():
        contrast[f"{lab}@{factor:g}/{sp}"] = {"label": lab, "factor": factor, "split": sp, "features": len(flips),
                                             "flip": _ci(torch.cat(flips), cfg.seed), "shift_to_class": _ci(torch.cat(shifts), cfg.seed)}
    # all features of one label ablated together: what redundancy among single features hides
    group_ablation = {}
    for lab in ("colour", "shape"):
        group = [f["feature"] for f in features if f["label"] == lab]
        if not group:
            continue
        for sp, x in splits.items():
            with replace_layer_output(run.model, module, sae, {f: 0.0 for f in group}):
                p = _probs(run.model, x)
            y = (ye if sp == "test_easy" else yh)[: x.shape[0]]
            group_ablation[f"{lab}/{sp}"] = {
                "label": lab, "split": sp, "features": len(group),
                "flip": _ci((p.argmax(1) != base_p[sp].argmax(1)).float().cpu(), cfg.seed),
                "accuracy_before": (base_p[sp].argmax(1) == y).float().mean().item(),
                "accuracy_after": (p.argmax(1) == y).float().mean().item()}
    shares = {lab: sum(f["label"] == lab for f in features) / max(len(features), 1) for lab in FEATURE_LABELS}

    torch_save_atomic({"format": "lazy-sae/1", "run": run.name, "layer": layer, "config": sae.config(),
                       "state_dict": sae.state_dict()}, out_dir / "sae.pt")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["feature", "frequency", "color_purity", "top_color", "digit_purity", "top_digit", "label"])
    for f in features:
        w.writerow([f["feature"], f"{f['frequency']:.4f}", f"{f['color_purity']:.3f}", f["top_color"],
                    f"{f['digit_purity']:.3f}", f["top_digit"], f["label"]])
    write_text_atomic(out_dir / "features.csv", buf.getvalue())
    result = {"run": run.name, "layer": layer, "d": d, "latents": sae.m, "kind": s.kind, "k": sae.k, "metrics": metrics,
              "targets": {"explained_variance": s.ev_target, "dead_fraction": s.dead_target},
              "sweep": sweep, "chosen": chosen, "live_features": int(live.numel()),
              "labelling": {"pool": "crossed grid", "digits_per_class": s.grid_digits, "colors": n_col, "images": int(grid_x.shape[0])},
              "features": features, "label_shares": shares, "thresholds": {"pure": PURE}, "interventions": interventions,
              "intervention_contrast": contrast, "group_ablation": group_ablation, "paths": paths}
    write_json_atomic(out_dir / "summary.json", result)
    paths.update({"sae": str(out_dir / "sae.pt"), "features_csv": str(out_dir / "features.csv"), "summary": str(out_dir / "summary.json")})
    return result


def sweep_figure(rows: list[dict[str, Any]], chosen: dict[str, Any], ev_target: float, path: Path, title: str) -> Path:
    """Held-out explained variance against L0, one line per SAE size, the chosen point ringed."""
    import matplotlib.pyplot as plt

    from ..figures import save

    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    for e in sorted({r["expansion"] for r in rows}):
        pts = sorted((r for r in rows if r["expansion"] == e), key=lambda r: r["l0"])
        ax.plot([r["l0"] for r in pts], [r["explained_variance"] for r in pts], marker="o", label=f"{pts[0]['latents']} latents")
        for r in pts:
            ax.annotate(f"k={r['k']}, dead {100 * r['dead_fraction']:.0f}%", (r["l0"], r["explained_variance"]), fontsize=6,
                        textcoords="offset points", xytext=(3, -8))
    ax.scatter([chosen["l0"]], [chosen["explained_variance"]], s=160, facecolors="none", edgecolors="k", label="chosen")
    ax.axhline(ev_target, color="gray", ls=":", lw=1)
    ax.set_xlabel("L0 (active latents per image, held out)")
    ax.set_ylabel("explained variance (held out)")
    ax.legend(fontsize=7)
    return save(fig, path, dpi=110, suptitle=title)


def load_sae(path: Path) -> tuple[SparseAutoencoder, dict[str, Any]]:
    from ..errors import LazyError
    from ..runs import torch_load_safe

    blob = torch_load_safe(path, "SAE file", "run `lazy sae` first")
    try:
        sae = SparseAutoencoder(**blob["config"])
        sae.load_state_dict(blob["state_dict"])
    except (RuntimeError, KeyError, TypeError) as exc:
        raise LazyError(f"SAE file {path} cannot be loaded: {str(exc).splitlines()[0]}") from None
    return sae.eval(), blob


def run_sae(cfg: RunConfig, runs_dir: Path, runs: list[str], reporter: Reporter = SILENT) -> dict[str, Any]:
    return for_each_run(cfg, runs_dir, runs, sae_run, reporter, "SAEs", "sae", rgb_only="sae")
