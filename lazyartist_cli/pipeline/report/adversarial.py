"""Section 6 of the report, adversarial robustness: the targeted attacks on the headline pair with CIs, the
success-vs-eps sweep, the several source -> target pairs, and the computed verdicts on whether robustness to the
colour shift came with adversarial robustness."""

from __future__ import annotations

import statistics
from typing import Any

from ...metrics import intervals_overlap
from ..plan import analysed
from .figures import _pair_sweep_figure, _sweep_figure
from .intervals import GAIN, _sep_suffix, _seeds, _separates
from .loader import ReportContext, RunFiles
from .writer import Writer


def write_adversarial(ctx: ReportContext) -> None:
    w, cfg, files, evals, base, first = ctx.w, ctx.cfg, ctx.files, ctx.evals, ctx.base, ctx.first
    w.h(2, "6. Adversarial robustness")
    rows, sweeps = [], {}
    for sp in first:
        at = files[sp.name].get("attack")
        if not at:
            continue
        src = files[sp.name].attack
        bat = (files[base.name].get("attack") or {}).get("methods", {})
        for mname, m in at["methods"].items():
            ci = (m["success_rate"], *m["success_ci95"]) if "success_ci95" in m else None
            bm = bat.get(mname, {})
            bci = (bm["success_rate"], *bm["success_ci95"]) if "success_ci95" in bm else None
            rows.append([sp.name, mname, str(m["n"]), w.num(f"{sp.name}.attack.{mname}.success_rate", m["success_rate"], src)
                         + (f" [{100 * ci[1]:.1f}, {100 * ci[2]:.1f}]" if ci else ""), _separates(bci, ci, sp.name == base.name),
                         *(f"{m[f'{q}_mean']:{fmt}}" + (f" [{m[f'{q}_ci95'][0]:{fmt}}, {m[f'{q}_ci95'][1]:{fmt}}]"
                                                          + _sep_suffix((bm[f"{q}_mean"], *bm[f"{q}_ci95"]) if f"{q}_ci95" in bm else None,
                                                                        (m[f"{q}_mean"], *m[f"{q}_ci95"]), sp.name == base.name)
                                                          if f"{q}_ci95" in m else "")
                           for q, fmt in (("linf", ".4f"), ("l2", ".3f")))])
        sweeps[sp.name] = at["sweep"]
    if rows:
        a = cfg.attack
        w.p(f"Targeted attacks {a.source_class} → {a.target_class} on {a.split} within an L-inf ball of eps {a.eps} "
            f"(success = the target class with probability ≥ {a.confidence}; PGD {a.steps} steps of {a.step}):")
        w.p()
        w.table(["run", "method", "images", "success [95% CI]", "separates from baseline", "mean L-inf", "mean L2"], rows)
        w.fig(_sweep_figure(sweeps, w.out_dir / "figures" / "attack_sweep.png"), "success vs eps", 560)
        pairs = []
        for sp in first:
            at, evx = files[sp.name].get("attack"), evals.get(sp.name)
            if at and evx and "pgd" in at["methods"]:
                pairs.append((sp.name, evx["test_hard"], at["methods"]["pgd"]["success_rate"]))
        _attack_pairs_section(w, first, files, evals, base.name, [sp for sp in ctx.all_specs if sp.role in ("baseline", "robust") and analysed(cfg, sp)])
        if len(pairs) >= 2:
            by_hard = sorted(pairs, key=lambda t: t[1])
            steps = list(zip(by_hard, by_hard[1:]))
            together = all(a[1] < b[1] and a[2] > b[2] for a, b in steps)
            opposite = all(a[1] < b[1] and a[2] < b[2] for a, b in steps)
            verdict = ("Yes, in these runs: the higher a model's hard-test accuracy, the lower its PGD success rate. " if together else
                       "No, the opposite in these runs: the higher a model's hard-test accuracy, the higher its PGD success rate, "
                       "so the models robust to the colour shift are the easier ones to push to the target class. " if opposite else
                       "Not consistently: ordering the models by hard-test accuracy does not order their PGD success rates. ")
            w.p(f"**On the headline pair alone ({cfg.attack.source_class} → {cfg.attack.target_class}; its CIs are in the first table):** " + verdict
                + "; ".join(f"`{n}` hard {100 * h:.1f}%, PGD success {100 * p:.1f}%" for n, h, p in by_hard) + ".")
            w.p()
    else:
        w.not_run("attack", f"lazy attack {' '.join(sp.name for sp in first)}")


def _attack_pairs_section(w: Writer, runs: list[Any], files: dict[str, RunFiles], evals: dict[str, Any], baseline: str,
                          every: list[Any]) -> None:
    """PGD success per source -> target pair and pooled over pairs, with bootstrap CIs, and the computed verdict on
    shift robustness vs adversarial robustness."""
    stored = {sp.name: (files[sp.name].get("attack") or {}).get("pairs") for sp in runs}
    stored = {k: v for k, v in stored.items() if v}
    if not stored:
        return
    any_run = next(iter(stored.values()))
    pair_keys = [(r["source"], r["target"]) for r in any_run["pairs"]]
    w.p(f"**Several pairs.** PGD ({any_run['pgd_steps']} steps) at eps {any_run['eps']} on the first "
        f"{any_run['pairs'][0]['n']} source images of each pair; success rate with a bootstrap 95% CI over images, and pooled "
        "over the pairs. Colour distance is the Euclidean distance of the two classes' dominant colours (RGB in 0-1).")
    w.p()
    def pair_title(s: int, t: int, r: dict[str, Any]) -> str:  # no colour distance where the shortcut is not colour
        dist = f", dist {r['color_distance']:.2f}" if r.get("color_distance") is not None else ""
        return f"{s}→{t} ({r['source_color']}→{r['target_color']}{dist})"

    header = ["run"] + [pair_title(s, t, r) for (s, t), r in zip(pair_keys, any_run["pairs"])] + ["pooled"]
    rows = []
    for name, pr in stored.items():
        src = files[name].attack
        by = {(r["source"], r["target"]): r for r in pr["pairs"]}
        cells = []
        for key in pair_keys:
            r = by.get(key)
            cells.append("—" if not r else w.num(f"{name}.attack.pair.{key[0]}-{key[1]}", r["success"], src)
                         + f" [{100 * r['ci95'][0]:.1f}, {100 * r['ci95'][1]:.1f}]")
        pooled = pr["pooled"]
        cells.append(w.num(f"{name}.attack.pooled", pooled["success"], src) + f" [{100 * pooled['ci95'][0]:.1f}, {100 * pooled['ci95'][1]:.1f}]")
        rows.append([name] + cells)
    w.table(header, rows)
    w.fig(_pair_sweep_figure(stored, w.out_dir / "figures" / "attack_pairs_sweep.png"), "PGD success vs eps per pair", 640)
    # over seeds: every run of the study that was attacked, grouped by strategy
    groups: dict[str, list[tuple[int, dict[str, Any], float]]] = {}
    for sp in every:
        pr = (files[sp.name].get("attack") or {}).get("pairs") if sp.name in files else None
        if pr and evals.get(sp.name):
            groups.setdefault(sp.strategy, []).append((sp.seed, pr["pooled"], evals[sp.name]["test_hard"]))
    base_strategy = runs[0].strategy
    if base_strategy not in groups or len(groups) < 2:
        return

    def union(g: list[tuple[int, dict[str, Any], float]]) -> tuple[float, float, float]:
        return (statistics.fmean(p["success"] for _, p, _ in g), min(p["ci95"][0] for _, p, _ in g), max(p["ci95"][1] for _, p, _ in g))

    rows = []
    for strat, g in groups.items():
        succ = [p["success"] for _, p, _ in g]
        hard = [h for _, _, h in g]
        sd = f" ± {100 * statistics.stdev(succ):.1f}" if len(succ) > 1 else ""
        u = union(g)
        w.num(f"attack.pooled_over_seeds.{strat}", u[0], files[runs[0].name].attack)
        rows.append([f"`{strat}`", str(len(g)), f"{100 * statistics.fmean(hard):.1f}%", f"{100 * u[0]:.1f}{sd}%",
                     f"[{100 * u[1]:.1f}, {100 * u[2]:.1f}]"])
    w.p("Pooled PGD success over the pairs, per strategy over the seeds whose runs were attacked (mean ± sample std over seeds; "
        "the interval is the union of the seeds' 95% intervals over images):")
    w.p()
    w.table(["strategy", "seeds", "hard test (mean)", "pooled PGD success", "union of 95% intervals"], rows)
    b = union(groups[base_strategy])
    b_hard = statistics.fmean(h for _, _, h in groups[base_strategy])
    robust = []
    for strat, g in groups.items():
        if strat == base_strategy:
            continue
        shift = statistics.fmean(h for _, _, h in g) - b_hard
        if shift >= GAIN:  # better on test_hard than the baseline by a meaningful margin
            u = union(g)
            robust.append((strat, shift, not intervals_overlap(b, u), u[0] > b[0], u[0], len(g)))
    if robust:
        verdicts = [f"`{n}` (hard {100 * shift:+.1f} points vs the baseline, {_seeds(k)}): pooled PGD success {100 * ps:.1f}% vs "
                    f"{100 * b[0]:.1f}%, " + ("separated: " + ("easier" if easier else "harder") + " to attack" if sep else
                                             "not separated (intervals overlap)")
                    for n, shift, sep, easier, ps, k in robust]
        all_easier = all(sep and easier for _, _, sep, easier, _, _ in robust)
        all_harder = all(sep and not easier for _, _, sep, easier, _, _ in robust)
        head = ("No: every strategy that is robust to the colour shift is easier to attack than the baseline. " if all_easier else
                "Yes: every strategy that is robust to the colour shift is harder to attack than the baseline. " if all_harder else
                "Not consistently. ")
    else:
        verdicts, head = [], "No strategy is at least 10 points better than the baseline on test_hard, so the question does not arise. "
    seeds = sorted({len(g) for g in groups.values()})
    w.p("**Did distribution-shift robustness come with adversarial robustness?** " + head + "; ".join(verdicts) + ". "
        f"Scope: white-box targeted PGD within L-inf eps {any_run['eps']}, {len(pair_keys)} pairs, "
        f"{'/'.join(map(str, seeds))} seed{'' if set(seeds) == {1} else 's'} per strategy, source images from the attack split; a strategy is separated from "
        "the baseline when the unions of their seeds' 95% intervals do not overlap.")
    w.p()
