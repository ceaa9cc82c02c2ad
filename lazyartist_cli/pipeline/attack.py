"""``attack``: targeted FGSM and PGD on the source-class images of each run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..attacks import ATTACKS, Attack, AttackResult
from ..config import AttackConfig, RunConfig
from ..figures import to_hwc
from ..figures.attack import adversarial_panels, success_curves
from ..metrics import bootstrap_ci
from ..precision import resolve_precision
from ..results import AttackSummary
from ..runs import run_dir, write_json_atomic
from .common import LoadedRun, for_each_run
from .reporter import SILENT, Reporter
from .splits import SplitCache


def make_attack(name: str, a: AttackConfig, eps: float, seed: int, steps: int | None = None) -> Attack:
    return ATTACKS[name].from_config(a, eps, seed, steps)


def summarize(res: AttackResult, x: torch.Tensor, seed: int = 0) -> dict[str, Any]:
    delta = (res.x_adv - x).flatten(1)
    its = res.iterations[res.success].float()
    return {
        "n": int(x.shape[0]),
        "success_rate": res.success.float().mean().item(),
        "success_ci95": list(bootstrap_ci(res.success.float().cpu(), seed=seed)[1:]),
        "linf_mean": delta.abs().max(1).values.mean().item(),
        "linf_ci95": list(bootstrap_ci(delta.abs().max(1).values.cpu(), seed=seed)[1:]),
        "l2_mean": delta.norm(dim=1).mean().item(),
        "l2_ci95": list(bootstrap_ci(delta.norm(dim=1).cpu(), seed=seed)[1:]),
        "iterations_mean": its.mean().item() if its.numel() else None,
        "iterations_median": its.median().item() if its.numel() else None,
        "target_prob_mean": res.target_prob.mean().item(),
    }


def attack_pairs(run: LoadedRun, x_all: torch.Tensor, y_all: torch.Tensor, meta: dict[str, Any], a: AttackConfig,
                 seed: int) -> dict[str, Any]:
    """PGD (``sweep_steps`` steps) on the first ``pair_images`` source images of every pair in ``a.pairs``, at ``a.eps``
    and at every ``pair_sweep`` eps: success rates with bootstrap 95% CIs over images, per pair and pooled over pairs."""
    names, rgb = meta.get("bias", {}).get("names") or meta["palette"]["names"], torch.tensor(meta["palette"]["rgb"]) / 255.0
    colour = meta.get("bias", {}).get("kind", "colour") == "colour"  # elsewhere the palette draws nothing
    grid = sorted(set(a.pair_sweep) | {a.eps})
    rows, pooled = [], []
    for s, t in a.pairs:
        idx = torch.nonzero(y_all == s).flatten()[: a.pair_images]
        x = x_all[idx]
        target = torch.full((x.shape[0],), t, device=x.device)
        success = {eps: make_attack("pgd", a, eps, seed, a.sweep_steps)(run.model, x, target).success.cpu() for eps in grid}
        at = success[a.eps].float()
        mean, lo, hi = bootstrap_ci(at, seed=seed)
        pooled.append(at)
        rows.append({"source": s, "target": t, "source_color": names[s], "target_color": names[t],
                     "color_distance": (rgb[s] - rgb[t]).norm().item() if colour else None, "n": int(x.shape[0]),
                     "success": mean, "ci95": [lo, hi], "per_image": at.int().tolist(),
                     "sweep": [success[e].float().mean().item() for e in grid]})
    mean, lo, hi = bootstrap_ci(torch.cat(pooled), seed=seed)
    return {"eps": a.eps, "pgd_steps": a.sweep_steps, "sweep_eps": grid, "pairs": rows,
            "pooled": {"success": mean, "ci95": [lo, hi], "n": int(sum(r["n"] for r in rows))},
            "color_distance": "Euclidean distance of the two classes' dominant colours in RGB (0-1 per channel)"}


def attack_run(run: LoadedRun, cache: SplitCache, cfg: RunConfig, reporter: Reporter) -> AttackSummary:
    a = cfg.attack
    dataset = run.config.get("train", {}).get("dataset") or cfg.data.name
    ds, meta, x_all, y_all = cache.get(dataset, a.split)
    idx = torch.nonzero(y_all == a.source_class).flatten()
    if a.n_images is not None:
        idx = idx[: a.n_images]
    precision = resolve_precision(a.precision, x_all.device)  # of PGD's gradient steps; successes are fp32
    if a.pairs_only:
        result = {"run": run.name, "split": a.split, "eps": a.eps, "precision": precision, "methods": {}, "sweep": None, "paths": {},
                  "pairs": attack_pairs(run, x_all, y_all, meta, a, cfg.seed) if a.pairs else None}
        write_json_atomic(run.path / "attack" / "summary.json", result)
        return result
    x = x_all[idx]
    target = torch.full((x.shape[0],), a.target_class, device=x.device)
    with torch.no_grad():
        clean = run.model.eval()(x).softmax(1)
    results = {name: make_attack(name, a, a.eps, cfg.seed)(run.model, x, target) for name in ATTACKS}
    headline = {name: summarize(r, x, cfg.seed) for name, r in results.items()}
    curves: dict[str, list[float]] = {name: [] for name in ATTACKS}
    n_sweep = x.shape[0] if a.sweep_images is None else min(a.sweep_images, x.shape[0])  # the first n source images
    for eps in a.sweep:
        for name in ATTACKS:
            if eps == a.eps and a.sweep_steps == a.steps and n_sweep == x.shape[0]:
                res = results[name]
            else:
                res = make_attack(name, a, eps, cfg.seed, a.sweep_steps)(run.model, x[:n_sweep], target[:n_sweep])
            curves[name].append(res.success.float().mean().item())
    out_dir = run.path / "attack"
    pgd = results["pgd"]
    with torch.no_grad():
        adv_probs = run.model(pgd.x_adv).softmax(1)
    paths: dict[str, Any] = {}
    k = min(a.n_figures, x.shape[0])
    if k:
        caps = [(f"original: pred {int(clean[i].argmax())} ({100 * clean[i].max():.0f}%)",
                 f"PGD eps={a.eps}: pred {int(adv_probs[i].argmax())} ({100 * adv_probs[i].max():.0f}%)") for i in range(k)]
        paths["examples"] = str(adversarial_panels(to_hwc(x[:k]), to_hwc(pgd.x_adv[:k]), caps, out_dir / "examples_pgd.png",
                                                   f"{run.name}: targeted {a.source_class} -> {a.target_class}"))
    result = {
        "run": run.name, "source_class": a.source_class, "target_class": a.target_class, "eps": a.eps, "split": a.split,
        "precision": precision,
        "clean_source_accuracy": (clean.argmax(1) == a.source_class).float().mean().item(),
        "clean_target_rate": (clean.argmax(1) == a.target_class).float().mean().item(),
        "methods": headline, "sweep": {"eps": a.sweep, "pgd_steps": a.sweep_steps, "n": n_sweep, "success": curves}, "paths": paths,
        "pairs": attack_pairs(run, x_all, y_all, meta, a, cfg.seed) if a.pairs else None,
    }
    write_json_atomic(out_dir / "summary.json", result)
    paths["summary"] = str(out_dir / "summary.json")
    return result


def run_attack(cfg: RunConfig, runs_dir: Path, runs: list[str], reporter: Reporter = SILENT) -> dict[str, Any]:
    out = for_each_run(cfg, runs_dir, runs, attack_run, reporter, "attacking", "attack", rgb_only="attack")
    first = run_dir(runs_dir, runs[0]) / "attack"
    target = first / ("success_vs_eps.png" if len(runs) == 1 else f"success_vs_eps_{'_vs_'.join(runs)[:120]}.png")
    curves = {name: r["sweep"]["success"] for name, r in out.items() if r.get("sweep")}
    if not curves:
        return out
    success_curves(curves, cfg.attack.sweep, f"targeted {cfg.attack.source_class} -> {cfg.attack.target_class}", target, cfg.attack.eps)
    for r in out.values():
        r["paths"]["success_vs_eps"] = str(target)
    return out
