"""``eval`` and ``counterfactual``: measure trained runs on the stored splits."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F

from ..checkpoints import load_checkpoint, model_from_checkpoint
from ..config import RunConfig
from ..data.build import SPLITS
from ..data.views import model_inputs
from ..figures import to_hwc
from ..figures.confusion import image_panel, plot_confusion
from ..interpret.counterfactual import counterfactual_predictions, recolor_all
from ..interpret.reliance import color_reliance
from ..data.colorize import RECOLORABLE
from ..data.protocols import shortcut_kind
from ..metrics import confusion_matrix, per_class_accuracy, shortcut_metrics
from ..results import CounterfactualSummary, EvalMetrics
from ..strategies import STRATEGIES
from ..runs import write_json_atomic
from .common import LoadedRun, for_each_run, predict
from .reporter import SILENT, Reporter
from .splits import SplitCache


def evaluate_run(run: LoadedRun, cache: SplitCache, cfg: RunConfig, reporter: Reporter = SILENT) -> EvalMetrics:
    dataset = run.config.get("train", {}).get("dataset") or cfg.data.name
    out_dir = run.path / "eval"
    result: dict[str, Any] = {"run": run.name, "dataset": dataset, "checkpoint_epoch": int(run.ckpt.get("epoch", 0))}
    confusions: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {}
    hard_probs = None
    mode = run.input_mode
    scored: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
    for split in SPLITS:
        ds, meta, x, y = cache.get(dataset, split, mode)
        logits = predict(run.model, x, cfg.eval.batch_size)
        pred = logits.argmax(1)
        scored[split] = (pred.cpu(), y.cpu(), ds.colors.cpu())
        cm = confusion_matrix(y.cpu(), pred.cpu())
        confusions[split] = cm
        result[split] = (pred == y).float().mean().item()
        result.setdefault("per_class", {})[split] = {str(k): v for k, v in enumerate(per_class_accuracy(cm))}
        result.setdefault("confusion", {})[split] = cm.tolist()
        if split == "test_hard":
            hard_probs = F.softmax(logits, 1)
    # the field's standard scores: aligned, bias-conflicting, unbiased (LfF) and worst-group accuracy
    result["groups"] = shortcut_metrics(scored["test_easy"], scored["test_hard"])
    last = last_epoch_scores(run, cache, dataset, cfg.eval.batch_size, result)
    if last is not None:
        result["last"] = last
    names = meta.get("bias", {}).get("names") or meta["palette"]["names"]
    palette = torch.tensor(meta["palette"]["rgb"], dtype=torch.float32) / 255.0
    drops = {
        str(k): result["per_class"]["test_easy"][str(k)] - result["per_class"]["test_hard"][str(k)] for k in range(10)
    }
    result["class_drop_easy_to_hard"] = dict(sorted(drops.items(), key=lambda kv: -kv[1]))
    # solid colour patches have no digit to build the colour-blind view from
    # (and on a protocol whose shortcut is not colour, solid colour patches measure nothing: not applicable)
    result["color_reliance"] = (None if mode == "colorblind" or shortcut_kind(meta) != "colour"
                                else color_reliance(run.model, palette.to(cache.device)))
    paths = {}
    for split in ("test_hard", "test_easy"):
        p = plot_confusion(confusions[split].numpy(), f"{run.name}: {split} (acc {result[split]:.3f})", out_dir / f"confusion_{split}.png")
        paths[f"confusion_{split}"] = str(p)
    # failure cases: the most confident mistakes on test_hard
    ds, _, x, y = cache.get(dataset, "test_hard", mode)
    conf, pred = hard_probs.max(1)
    wrong = torch.nonzero(pred != y).flatten()
    order = wrong[conf[wrong].argsort(descending=True)][: cfg.eval.n_failures]
    failures = [
        {
            "index": int(i), "label": int(y[i]), "predicted": int(pred[i]), "confidence": round(float(conf[i]), 4),
            "color": names[int(ds.colors[i])], "prediction_is_color_class": int(pred[i]) == int(ds.colors[i]),
        }
        for i in order.tolist()
    ]
    result["failures"] = failures
    if failures:
        titles = [f"#{f['index']} {f['label']}->{f['predicted']}\n{f['color']} {100 * f['confidence']:.0f}%" for f in failures]
        paths["failures"] = str(image_panel(to_hwc(x[order]), titles, out_dir / "failures.png",
                                            suptitle=f"{run.name}: most confident test_hard mistakes (true->pred, colour, conf)"))
    write_json_atomic(out_dir / "failures.json", failures)
    paths["failures_json"] = str(out_dir / "failures.json")
    paths["metrics"] = str(out_dir / "metrics.json")
    result["paths"] = paths
    write_json_atomic(out_dir / "metrics.json", result)
    return result


def last_epoch_scores(run: LoadedRun, cache: SplitCache, dataset: str, batch_size: int,
                      chosen: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The final epoch's model (``last.pt``) scored on the test splits: what a paper's code that keeps the last model
    reports, beside the checkpoint the run's rule chose (the same training, so one run gives both). None without
    ``last.pt`` or for a refitting strategy (its last epoch was never refitted)."""
    path = run.path / "last.pt"
    strategy = run.config.get("train", {}).get("strategy")
    if not path.is_file() or (strategy in STRATEGIES and STRATEGIES[strategy].refits):
        return None
    ckpt = load_checkpoint(path)
    epoch = int(ckpt.get("epoch", 0))
    if epoch == chosen["checkpoint_epoch"]:
        return {"checkpoint_epoch": epoch, "test_easy": chosen["test_easy"], "test_hard": chosen["test_hard"],
                "groups": chosen["groups"]}
    model = model_from_checkpoint(ckpt, cache.device)
    out: dict[str, Any] = {"checkpoint_epoch": epoch}
    scored = {}
    for split in ("test_easy", "test_hard"):
        ds, _, x, y = cache.get(dataset, split, run.input_mode)
        pred = predict(model, x, batch_size).argmax(1)
        scored[split] = (pred.cpu(), y.cpu(), ds.colors.cpu())
        out[split] = (pred == y).float().mean().item()
    out["groups"] = shortcut_metrics(scored["test_easy"], scored["test_hard"])
    return out


def run_eval(cfg: RunConfig, runs_dir: Path, runs: list[str], reporter: Reporter = SILENT) -> dict[str, EvalMetrics]:
    return for_each_run(cfg, runs_dir, runs, evaluate_run, reporter, "evaluating runs", "eval")


def twin_counterfactual(run: LoadedRun, cache: SplitCache, cfg: RunConfig, dataset: str) -> CounterfactualSummary:
    """The counterfactual of a protocol without colour to recolour (decoy, texture): test_hard[i] is
    test_easy[i] with another bias value (same digit, same nuisance), so each correctly classified aligned
    test_easy image has one counterfactual twin. Does the prediction follow the new bias value?"""
    ds_e, meta, x_e, y = cache.get(dataset, "test_easy", run.input_mode)
    ds_h, _, x_h, _ = cache.get(dataset, "test_hard", run.input_mode)
    colors = ds_e.colors.to(x_e.device)
    pred0, _ = counterfactual_predictions(run.model, x_e, cfg.eval.batch_size)
    chosen = torch.nonzero((pred0 == y) & (colors == y)).flatten()[: cfg.counterfactual.n_images]
    if chosen.numel() == 0:
        return {"run": run.name, "n_images": 0, "note": "no correctly classified aligned test_easy image"}
    new_b = ds_h.colors.to(x_e.device)[chosen]
    pred, conf = counterfactual_predictions(run.model, x_h[chosen], cfg.eval.batch_size)
    follows, keeps = pred == new_b, pred == y[chosen]
    out_dir = run.path / "counterfactual"
    n_fig = min(cfg.counterfactual.n_figures * 4, chosen.numel())
    names = meta.get("bias", {}).get("names") or meta["palette"]["names"]
    imgs = torch.stack([torch.stack([x_e[chosen[i]], x_h[chosen[i]]]) for i in range(n_fig)]).flatten(0, 1)
    titles = [t for i in range(n_fig) for t in (
        f"original ({names[int(colors[chosen[i]])]})\npred {int(pred0[chosen[i]])}",
        f"-> {names[int(new_b[i])]}\npred {int(pred[i])} {100 * float(conf[i]):.0f}%")]
    fig = image_panel(to_hwc(imgs), titles, out_dir / "twins_test_easy_test_hard.png", cols=8,
                      suptitle=f"{run.name}: aligned test_easy images and their test_hard twins (another {meta['bias']['kind']})")
    result = {
        "run": run.name, "method": "twin", "n_images": int(chosen.numel()), "n_recolored": int(chosen.numel()),
        "follows_new_color": follows.float().mean().item(), "keeps_true_label": keeps.float().mean().item(),
        "other": 1.0 - follows.float().mean().item() - keeps.float().mean().item(),
        "mean_confidence": conf.mean().item(), "per_color": {},
        "paths": {"figures": [str(fig)], "summary": str(out_dir / "summary.json")},
    }
    write_json_atomic(out_dir / "summary.json", result)
    return result


def counterfactual_run(run: LoadedRun, cache: SplitCache, cfg: RunConfig, reporter: Reporter = SILENT) -> CounterfactualSummary:
    dataset = run.config.get("train", {}).get("dataset") or cfg.data.name
    ds, meta, x, y = cache.get(dataset, "test_easy")
    if meta.get("protocol", "foreground") not in RECOLORABLE:
        return twin_counterfactual(run, cache, cfg, dataset)
    names = meta["palette"]["names"]
    palette = (torch.tensor(meta["palette"]["rgb"], dtype=torch.float32) / 255.0).to(x.device)
    colors = ds.colors.to(x.device)
    digits = ds.digits.to(x.device)
    mode = run.input_mode  # what the model sees of an image: as stored, or the oracle's colour-blind view

    def seen(imgs: torch.Tensor, digit: torch.Tensor, color: torch.Tensor) -> torch.Tensor:
        return model_inputs(imgs, digit, color, palette, meta["protocol"], mode)

    pred0, conf0 = counterfactual_predictions(run.model, seen(x, digits, colors), cfg.eval.batch_size)
    chosen = torch.nonzero((pred0 == y) & (colors == y)).flatten()[: cfg.counterfactual.n_images]
    if chosen.numel() == 0:
        return {"run": run.name, "n_images": 0, "note": "no correctly classified aligned test_easy image"}
    xr, src, new_c = recolor_all(x[chosen], digits[chosen], colors[chosen], palette, meta["protocol"])
    pred, conf = counterfactual_predictions(run.model, seen(xr, digits[chosen][src], new_c), cfg.eval.batch_size)
    true = y[chosen][src]
    follows = pred == new_c
    keeps = pred == true
    per_color = {
        names[c]: {"n": int((new_c == c).sum()), "follows_color": follows[new_c == c].float().mean().item(),
                   "keeps_label": keeps[new_c == c].float().mean().item()}
        for c in range(palette.shape[0])
    }
    out_dir = run.path / "counterfactual"
    figures = []
    for f in range(min(cfg.counterfactual.n_figures, chosen.numel())):
        rows = torch.nonzero(src == f).flatten()
        imgs = torch.cat([x[chosen[f]][None], xr[rows]])
        titles = [f"original ({names[int(colors[chosen[f]])]})\npred {int(pred0[chosen[f]])} {100 * float(conf0[chosen[f]]):.0f}%"]
        titles += [f"-> {names[int(new_c[r])]}\npred {int(pred[r])} {100 * float(conf[r]):.0f}%" for r in rows]
        p = image_panel(to_hwc(imgs), titles, out_dir / f"recolor_{f:02d}_test_easy_{int(chosen[f])}_label{int(y[chosen[f]])}.png",
                        cols=5, suptitle=f"{run.name}: digit {int(y[chosen[f]])} recoloured to every other class colour")
        figures.append(str(p))
    result = {
        "run": run.name,
        "method": "recolour",
        "n_images": int(chosen.numel()),
        "n_recolored": int(src.numel()),
        "follows_new_color": follows.float().mean().item(),
        "keeps_true_label": keeps.float().mean().item(),
        "other": 1.0 - follows.float().mean().item() - keeps.float().mean().item(),
        "mean_confidence": conf.mean().item(),
        "per_color": per_color,
        "paths": {"figures": figures, "summary": str(out_dir / "summary.json")},
    }
    write_json_atomic(out_dir / "summary.json", result)
    return result


def run_counterfactual(cfg: RunConfig, runs_dir: Path, runs: list[str], reporter: Reporter = SILENT) -> dict[str, CounterfactualSummary]:
    return for_each_run(cfg, runs_dir, runs, counterfactual_run, reporter, "recolouring", "counterfactual")
