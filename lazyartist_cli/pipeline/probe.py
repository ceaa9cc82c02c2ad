"""``probe``: activation maximisation, neuron selectivity and top-activating images per unit."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..data.mnist import IMAGE_SIZE, NUM_CLASSES
from ..config import RunConfig
from ..errors import UsageError
from ..figures import to_hwc
from ..figures.confusion import image_panel
from ..interpret.actmax import ActMaxConfig, activation_maximization, colourness
from ..interpret.counterfactual import every_colour
from ..interpret.hooks import LayerCapture, find_layer, layer_outputs
from ..interpret.selectivity import LABELS, TAU, WEAK, selectivity_scores
from ..models import INFERENCE_BATCH
from ..results import ProbeUnits
from ..runs import write_json_atomic, write_text_atomic
from .common import LoadedRun, for_each_run
from .reporter import SILENT, Reporter
from .splits import SplitCache


def default_layers(model: nn.Module) -> list[str]:
    """An early, a middle and a late layer: first, middle and last Conv2d/Linear."""
    names = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    picks = [names[0], names[len(names) // 2], names[-1]]
    return list(dict.fromkeys(picks))


def layer_responses(model: nn.Module, layer: str, x: torch.Tensor, units: torch.Tensor, objective: str,
                    batch_size: int = INFERENCE_BATCH) -> torch.Tensor:
    """Responses (N, U) of the chosen units to images x (N, 3, H, W)."""

    def reduce(act: torch.Tensor) -> torch.Tensor:
        u = units.to(act.device)
        if act.dim() == 4:
            chan = act[:, u]  # (B, U, h, w)
            return chan[:, :, chan.shape[2] // 2, chan.shape[3] // 2] if objective == "neuron" else chan.mean((2, 3))
        return act.flatten(1)[:, u]

    return layer_outputs(model, layer, x, reduce, batch_size)


def _layer_shape(model: nn.Module, layer: str, device: torch.device) -> tuple[int, bool]:
    """(units, whether the layer outputs spatial maps)."""
    with torch.no_grad(), LayerCapture(model, layer) as cap:
        model.eval()(torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE, device=device))
    if cap.activation is None:
        raise UsageError(f"layer {layer!r} is not used in the forward pass")
    return int(cap.activation.shape[1]), cap.activation.dim() == 4


def layer_objective(requested: str, layer: str, spatial: bool, named: bool) -> str:
    """``auto``: one neuron (the centre position) of a convolutional map, the unit itself of a linear layer.
    ``neuron`` asked for a layer the user named that has no spatial maps is a usage error."""
    if requested == "auto":
        return "neuron" if spatial else "channel"
    if requested == "neuron" and not spatial:
        if named:
            raise UsageError(f"layer {layer!r} has no spatial maps, so it has no single-neuron objective; "
                             "use probe.objective = 'auto' or 'channel'")
        return "channel"
    return requested


def filter_patches(model: nn.Module, layer: str, units: list[int]) -> torch.Tensor | None:
    """The RGB filters (U, 3, k, k) of a first-layer convolution, each scaled to [0, 1] around 0.5; None for other layers."""
    module = find_layer(model, layer)
    if not isinstance(module, nn.Conv2d) or module.in_channels != 3:
        return None
    w = module.weight.detach()[units].float()
    return (w / (2 * w.abs().amax((1, 2, 3), keepdim=True).clamp_min(1e-12)) + 0.5).clamp(0, 1)


def probe_run(run: LoadedRun, cache: SplitCache, cfg: RunConfig, reporter: Reporter) -> ProbeUnits:
    p = cfg.probe
    device = cache.device
    dataset = run.config.get("train", {}).get("dataset") or cfg.data.name
    easy, meta, xe, ye = cache.get(dataset, "test_easy")
    hard, _, xh, yh = cache.get(dataset, "test_hard")
    names = meta["palette"]["names"]
    palette = (torch.tensor(meta["palette"]["rgb"], dtype=torch.float32) / 255.0).to(device)
    layers = p.layers or default_layers(run.model)
    for layer in layers:
        find_layer(run.model, layer)
    # selectivity stimuli: per_class digits of each class, each in every palette colour
    idx = torch.cat([torch.nonzero(easy.labels == k).flatten()[: p.selectivity_digits] for k in range(NUM_CLASSES)])
    base_x, base_digits, base_colors = xe[idx.to(device)], easy.digits[idx].to(device), easy.colors[idx].to(device)
    stim = every_colour(base_x, base_digits, base_colors, palette, meta["protocol"])  # (d, K, 3, H, W)
    d, k = stim.shape[:2]
    solid = palette[:, :, None, None].expand(-1, 3, *xe.shape[2:]).contiguous()
    pool_x = torch.cat([xe, xh])
    out_dir = run.path / "probe"

    units_out: list[dict[str, Any]] = []
    paths: dict[str, Any] = {"grids": [], "units": [], "top": []}
    reporter.start("probe", f"{run.name}: probing", len(layers))
    for layer in layers:
        n_all, spatial = _layer_shape(run.model, layer, device)
        objective = layer_objective(p.objective, layer, spatial, named=p.layers is not None)
        am_cfg = ActMaxConfig(steps=p.steps, lr=p.lr, param=p.param, objective=objective, l2=p.l2, tv=p.tv,
                              jitter=p.jitter, blur_every=p.blur_every, scale=p.scale, rotate=p.rotate, restarts=p.restarts)
        chans = p.channels if p.channels is not None else list(range(min(p.n_units, n_all)))
        bad = [c for c in chans if c < 0 or c >= n_all]
        if bad:
            raise UsageError(f"channel index {bad[0]} out of range for layer {layer!r} (it has {n_all} units: 0..{n_all - 1})")
        units = torch.tensor(chans, dtype=torch.long)
        images, reached, _ = activation_maximization(run.model, layer, units, am_cfg, seed=cfg.seed, device=device)
        colour_of_image = colourness(images).cpu()
        resp = layer_responses(run.model, layer, stim.reshape(d * k, *xe.shape[1:]), units, objective).reshape(d, k, -1)
        solid_resp = layer_responses(run.model, layer, solid, units, objective)
        sel = selectivity_scores(resp.cpu(), easy.labels[idx], solid_resp.cpu())
        pool_resp = layer_responses(run.model, layer, pool_x, units, objective)  # (20000, U)
        top = pool_resp.topk(p.top_k, dim=0).indices.T.cpu()  # (U, top_k)
        safe = layer.replace(".", "_") or "input"
        titles = [f"{layer}/{c}\nobj {float(v):.2f} col {float(colour_of_image[i]):.2f}\n{LABELS[int(sel['label'][i])]}"
                  for i, (c, v) in enumerate(zip(chans, reached))]
        panel, panel_titles, cols = images, titles, min(8, len(chans))
        patches = filter_patches(run.model, layer, chans)
        if patches is not None:  # each visualisation beside its filter, drawn as an RGB patch
            big = torch.nn.functional.interpolate(patches, size=images.shape[-2:], mode="nearest").to(images.device)
            panel = torch.stack([images, big], 1).flatten(0, 1)
            panel_titles = [t for i, c in enumerate(chans) for t in (titles[i], f"filter {c} (RGB)")]
            cols = min(8, 2 * len(chans))
        paths["grids"].append(str(image_panel(to_hwc(panel), panel_titles, out_dir / f"actmax_{safe}.png", cols=cols,
                                              suptitle=f"{run.name}: activation maximisation ({objective if spatial else 'unit'}, best of "
                                                       f"{p.restarts} starts), {layer}")))
        strip_imgs, strip_titles = [], []
        for i, c in enumerate(chans):
            unit_path = out_dir / "units" / f"{safe}_{c}.png"
            image_panel(to_hwc(images[i : i + 1]), [f"{layer}/{c} obj {float(reached[i]):.2f}"], unit_path, cols=1)
            paths["units"].append(str(unit_path))
            for j in top[i].tolist():
                strip_imgs.append(pool_x[j])
                split, row = ("test_easy", j) if j < xe.shape[0] else ("test_hard", j - xe.shape[0])
                ds = easy if split == "test_easy" else hard
                strip_titles.append(f"{layer}/{c}\n{int(ds.labels[row])} {names[int(ds.colors[row])]}")
            units_out.append({
                "layer": layer, "unit": c, "objective": float(reached[i]), "objective_kind": objective,
                "colorness": float(colour_of_image[i]),
                "color_score": float(sel["colour"][i]), "shape_score": float(sel["shape"][i]),
                "solid_color_score": float(sel["solid_colour"][i]), "std": float(sel["std"][i]),
                "label": LABELS[int(sel["label"][i])],
                "top_images": [("test_easy", j) if j < xe.shape[0] else ("test_hard", j - xe.shape[0]) for j in top[i].tolist()],
            })
        paths["top"].append(str(image_panel(to_hwc(torch.stack(strip_imgs)), strip_titles, out_dir / f"top_{safe}.png",
                                            cols=p.top_k, suptitle=f"{run.name}: top-{p.top_k} test images per unit, {layer}")))
        reporter.update("probe", 1)
    shares = {lab: sum(u["label"] == lab for u in units_out) / max(len(units_out), 1) for lab in LABELS}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["layer", "unit", "objective_kind", "objective", "colorness", "color_score", "shape_score", "solid_color_score",
                "label"])
    for u in units_out:
        w.writerow([u["layer"], u["unit"], u["objective_kind"], f"{u['objective']:.4f}", f"{u['colorness']:.4f}",
                    f"{u['color_score']:.4f}", f"{u['shape_score']:.4f}", f"{u['solid_color_score']:.4f}", u["label"]])
    write_text_atomic(out_dir / "units.csv", buf.getvalue())
    result = {"run": run.name, "layers": layers, "units": units_out, "label_shares": shares,
              "thresholds": {"tau": TAU, "weak": WEAK}, "paths": paths}
    write_json_atomic(out_dir / "units.json", result)
    paths["csv"], paths["json"] = str(out_dir / "units.csv"), str(out_dir / "units.json")
    return result


def run_probe(cfg: RunConfig, runs_dir: Path, runs: list[str], reporter: Reporter = SILENT) -> dict[str, dict[str, Any]]:
    return for_each_run(cfg, runs_dir, runs, probe_run, reporter, "probing runs", "probe", rgb_only="probe")
