"""Report sections that read one analysis each (colour vs brightness attributions, attack pairs, SAEs), the
laziness frontier and the sweeps; ``report.run_report`` calls them in order."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any, Optional

from ..metrics import intervals_overlap
from ..runs import upgrade
from .report_intervals import FLIP_SMALL, GAIN, LAZY_HARD, _seeds, _bootstrap_list, _ci_cell, _separates, _sep_suffix, _share_cell

# Writer, RunFiles and RunSpec (report.py, plan.py) appear as Any in signatures: importing them here would make a cycle


def _load(path: Path) -> Optional[dict[str, Any]]:
    try:
        return upgrade(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def _sae_section(w: Any, runs: list[Any], files: dict[str, Any]) -> None:
    """SAEs: held-out quality against the targets, the size/k sweep, labels on the crossed grid, and
    interventions on test_easy and test_hard with CIs; when single-feature effects are small, the numbers
    that say why (redundancy, the effect of ablating a whole label group)."""
    rows, irows, grows = [], [], []
    stored = {sp.name: files[sp.name].get("sae") for sp in runs if files[sp.name].get("sae")}
    baseline = runs[0].name

    def colour_ci(sa: Optional[dict[str, Any]]) -> Optional[tuple[float, float, float]]:
        feats = (sa or {}).get("features", [])
        return _bootstrap_list([1.0 if f["label"] in ("colour", "polysemantic") else 0.0 for f in feats]) if feats else None

    def colour_feature_cells(name: str, sa: dict[str, Any]) -> list[str]:
        ci = colour_ci(sa)
        if not ci:
            return ["—", "—"]
        return [f"{100 * ci[0]:.0f}% [{100 * ci[1]:.0f}, {100 * ci[2]:.0f}]", _separates(colour_ci(stored.get(baseline)), ci, name == baseline)]

    for name, sa in stored.items():
        m, sh, src = sa["metrics"], sa["label_shares"], files[name].sae
        tg = sa.get("targets", {})
        meets = m.get("meets_targets")
        cis = m.get("ci95", {})
        bcis = (stored.get(baseline) or {}).get("metrics", {}).get("ci95", {})

        def qcell(key: str, text: str, ci_fmt: str) -> str:
            if key not in cis:
                return text
            ci = (m[key], *cis[key])
            bm = (stored.get(baseline) or {}).get("metrics", {})
            sep = _separates((bm[key], *bcis[key]) if key in bcis else None, ci, name == baseline)
            return (f"{text} [{format(ci[1], ci_fmt)}, {format(ci[2], ci_fmt)}]" + ("" if sep == "(baseline)" else f", sep.: {sep}"))

        rows.append([name, sa["layer"], str(sa["latents"]), str(sa.get("k", "—")),
                     qcell("explained_variance", w.num(f"{name}.sae.explained_variance", m["explained_variance"], src, ".3f"), ".3f"),
                     qcell("l0", f"{m['l0']:.1f}", ".1f"),
                     w.num(f"{name}.sae.dead_fraction", m["dead_fraction"], src),
                     "—" if meets is None else ("yes" if meets else "**no**"),
                     w.num(f"{name}.sae.accuracy_val_reconstructed", m["accuracy_val_reconstructed"], src),
                     *(w.num(f"{name}.sae.label.{k}", sh[k], src)
                       and _share_cell([f["label"] for f in sa["features"]], k, [f["label"] for f in (stored.get(baseline) or {}).get("features", [])],
                                       name == baseline)
                       for k in ("colour", "shape", "polysemantic", "unclear")),
                     *colour_feature_cells(name, sa)])
        for key, v in sa.get("intervention_contrast", {}).items():
            if "flip" not in v:
                continue
            bv = ((stored.get(baseline) or {}).get("intervention_contrast") or {}).get(key, {})
            sep = _separates((bv["flip"]["mean"], *bv["flip"]["ci95"]) if "flip" in bv else None,
                             (v["flip"]["mean"], *v["flip"]["ci95"]), name == baseline)
            bshift = (bv["shift_to_class"]["mean"], *bv["shift_to_class"]["ci95"]) if "shift_to_class" in bv else None
            irows.append([name, f"{v['label']} × {v['factor']:g}", v["split"], str(v["features"]), _ci_cell(v["flip"]), sep,
                          _ci_cell(v["shift_to_class"], 100, 2, " pts")
                          + _sep_suffix(bshift, (v["shift_to_class"]["mean"], *v["shift_to_class"]["ci95"]), name == baseline)])
        for key, v in sa.get("group_ablation", {}).items():
            bg = ((stored.get(baseline) or {}).get("group_ablation") or {}).get(key, {})
            grows.append([name, v["label"], v["split"], str(v["features"]), _ci_cell(v["flip"])
                          + _sep_suffix((bg["flip"]["mean"], *bg["flip"]["ci95"]) if "flip" in bg else None,
                                        (v["flip"]["mean"], *v["flip"]["ci95"]), name == baseline),
                          f"{100 * v['accuracy_before']:.1f}% → {100 * v['accuracy_after']:.1f}%"])
    any_sa = next(iter(stored.values()))
    tg = any_sa.get("targets", {"explained_variance": 0.95, "dead_fraction": 0.10})
    lab = any_sa.get("labelling", {})
    w.p(f"TopK SAEs on each model's penultimate layer with the AuxK loss on dead latents; size and k chosen per run from a "
        f"sweep (the sparsest point with held-out explained variance ≥ {tg['explained_variance']:.2f} and dead latents "
        f"< {100 * tg['dead_fraction']:.0f}% on val activations). Features are labelled on the fully crossed grid "
        f"({lab.get('digits_per_class', '?')} test_easy digits per class, each in all {lab.get('colours', '?')} colours) by the "
        "colour and digit purity of their top-activating images.")
    w.p()
    w.table(["run", "layer", "latents", "k", "expl. var.", "L0", "dead", "meets targets", "acc. (reconstructed)", "colour", "shape",
             "polysem.", "unclear", "reads colour (colour or polysem.)", "separates from baseline"], rows)
    w.p("Explained variance and L0 carry bootstrap 95% CIs over the held-out images; the dead fraction has none (a bootstrap "
        "resample holds about 63% distinct images, so \"never fires\" is biased upward in it: the estimate would fall outside its "
        "own interval); label shares carry bootstrap CIs over the labelled features; *sep.* = the run's interval does not overlap "
        "the baseline's.")
    w.p()
    for name, sa in stored.items():
        w.fig(sa.get("paths", {}).get("sweep"), f"SAE sweep {name}", 420)
        break
    if irows:
        w.p("Interventions (a feature's value × factor, pooled over the intervened features; flip = prediction changes; shift = "
            "mean change of the probability of the feature's class: its digit for shape features, the class whose dominant "
            "colour it is for colour features), bootstrap 95% CIs over images; *sep.*: the interval does not overlap the baseline's "
            "for the same label, factor and split (— where the baseline has no feature of that label):")
        w.p()
        w.table(["run", "features", "split", "features intervened", "flipped", "flip rate separates from baseline",
                 "shift to the feature's class"], irows)
    if grows:
        w.p("All features of one label switched off together (factor 0):")
        w.p()
        w.table(["run", "label", "split", "features", "flipped", "accuracy"], grows)
    why = []
    for name, sa in stored.items():
        single = [v for v in sa.get("intervention_contrast", {}).values() if "flip" in v and v["factor"] == 0]
        group = sa.get("group_ablation", {})
        red = [i["same_label_and_class"] for i in sa.get("interventions", []) if "same_label_and_class" in i]
        cos = [i["max_decoder_cosine"] for i in sa.get("interventions", []) if "max_decoder_cosine" in i]
        if single and max(v["flip"]["mean"] for v in single) < FLIP_SMALL and red:
            g = max(group.values(), key=lambda v: v["flip"]["mean"]) if group else None
            why.append(f"`{name}`: single features flip at most {100 * max(v['flip']['mean'] for v in single):.1f}% of predictions; "
                       f"each intervened feature shares its label and class with {sum(red) / len(red):.1f} other live features on "
                       f"average (largest decoder cosine to another live feature: {sum(cos) / max(len(cos), 1):.2f} on average)"
                       + (f", and switching off all {g['features']} {g['label']} features together flips "
                          f"{100 * g['flip']['mean']:.1f}% on {g['split']}" if g else "") + ".")
    if why:
        w.p("**Why single-feature effects are small:** " + " ".join(why) + " The model reads each concept through several "
            "features, so removing one leaves the others to carry it.")
        w.p()
    _run_figures(w, runs, files, "sae", "feature_strips", "SAE features")


def _attack_pairs_section(w: Any, runs: list[Any], files: dict[str, Any], evals: dict[str, Any], baseline: str,
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
    header = ["run"] + [f"{s}→{t} ({r['source_color']}→{r['target_color']}, dist {r['color_distance']:.2f})"
                        for (s, t), r in zip(pair_keys, any_run["pairs"])] + ["pooled"]
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


def _pair_sweep_figure(stored: dict[str, Any], path: Path) -> Optional[Path]:
    import matplotlib.pyplot as plt

    from ..figures import save

    any_run = next(iter(stored.values()))
    n = len(any_run["pairs"])
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.6), squeeze=False, sharey=True)
    for j, r0 in enumerate(any_run["pairs"]):
        ax = axes[0, j]
        for name, pr in stored.items():
            r = next((r for r in pr["pairs"] if (r["source"], r["target"]) == (r0["source"], r0["target"])), None)
            if r:
                ax.plot(pr["sweep_eps"], [100 * v for v in r["sweep"]], marker="o", ms=3, label=name)
        ax.set_title(f"{r0['source']}→{r0['target']} ({r0['source_color']}→{r0['target_color']})", fontsize=8)
        ax.set_xlabel("eps", fontsize=8)
        ax.axvline(any_run["eps"], color="gray", ls=":", lw=1)
    axes[0, 0].set_ylabel("PGD success (%)", fontsize=8)
    axes[0, -1].legend(fontsize=6)
    return save(fig, path, dpi=110)


def _color_share_section(w: Any, runs: list[Any], files: dict[str, Any], baseline: str) -> None:
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
        "attribution mass, averaged over images, with a bootstrap 95% CI over images. 1 means the model reads only colour, 0 only "
        f"brightness; for the gradient methods, a gradient with no preferred RGB direction gives {any_run['isotropic_share']:.2f}. "
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


def _run_figures(w: Any, runs: list[Any], files: dict[str, Any], what: str, key: str, alt: str) -> None:
    """One stored figure per run, where the run's ``what`` result lists it under ``paths[key]``."""
    for sp in runs:
        res = files[sp.name].get(what)
        if res:
            w.fig(res.get("paths", {}).get(key), f"{alt} {sp.name}", 520)


FRONTIER = Path("frontier") / "frontier.json"  # written by scripts/frontier.py


def _study_model_label() -> str:
    from ..models import OPTIONS

    return "lazy-cnn: " + ", ".join(f"{k}={v}" for k, v in OPTIONS["lazy-cnn"][1].items())


def frontier_verdict(summary: list[dict[str, Any]], lazy_below: float = LAZY_HARD) -> list[str]:
    """Computed from the frontier table: which designs are lazy under ERM, and how close each role comes to its
    colour-blind oracle there (the study needs both at once)."""
    by = {(e["design"], e["role"]): e for e in summary}
    designs = list(dict.fromkeys(e["design"] for e in summary))
    lazy = [d for d in designs if (d, "erm") in by and by[d, "erm"]["test_hard"] < lazy_below]
    shape = [d for d in designs if (d, "erm") in by and by[d, "erm"]["test_hard"] >= lazy_below]
    out = [f"- ERM is lazy (hard < {100 * lazy_below:.0f}%) on {len(lazy)} of {len(lazy) + len(shape)} designs"
           + (": " + ", ".join(f"`{d}`" for d in lazy) if lazy else "") + "."]
    roles = [r for r in dict.fromkeys(e["role"] for e in summary) if r not in ("erm", "oracle")]
    for group, label in ((lazy, "lazy"), (shape, "not lazy")):
        oracles = [by[d, "oracle"]["test_hard"] for d in group if (d, "oracle") in by]
        if oracles:
            out.append(f"- Colour-blind oracle on the {label} designs: hard {100 * min(oracles):.1f}-{100 * max(oracles):.1f}%.")
        for role in roles:
            pts = [(by[d, role]["test_hard"], by[d, "oracle"]["test_hard"], d) for d in group if (d, role) in by and (d, "oracle") in by]
            if pts:
                best = max(pts)
                gaps = [o - h for h, o, _ in pts]
                out.append(f"- `{role}` on the {label} designs: best hard {100 * best[0]:.1f}% (`{best[2]}`), "
                           f"{100 * min(gaps):.1f}-{100 * max(gaps):.1f} points below that design's oracle.")
    return out


def _sweep_sections(w: Any, runs_dir: Path) -> None:
    """One subsection per `lazy sweep` found under runs/sweeps/: mean ± std over seeds per combination of the other axes."""
    root = runs_dir / "sweeps"
    found = sorted(root.glob("*/results.json")) if root.is_dir() else []
    for src in found:
        data = _load(src)
        if not data or "summary" not in data:
            continue
        sm = data["summary"]
        w.h(3, f"Sweep `{data['sweep']}`")
        failed = [p["run"] for p in data["points"] if p["status"] == "failed"]
        w.p(f"{len(data['points'])} points from `{data['file']}` (axes: "
            + ", ".join(f"`{k}` = {v}" for k, v in data["axes"].items()) + f"), run with `--executor {data['executor']}` "
            f"x{data['workers']}, {data.get('threads', '?')} thread(s) per point, {data['seconds']:.0f} s"
            + (f"; **{len(failed)} failed**: " + ", ".join(f"`{n}`" for n in failed) if failed else "") + ". Mean ± sample std over seeds:")
        w.p()

        def cell(g: dict[str, Any], split: str) -> str:
            sd = g.get(f"{split}_std")
            return f"{100 * g[split]:.1f}" + (f" ± {100 * sd:.1f}" if sd is not None else "") + "%"

        rows = []
        for g in sm["groups"]:
            label = ", ".join(f"{k}={v}" for k, v in g["values"].items()) or "all"
            w.num(f"sweep.{data['sweep']}.{label}.test_hard", g["test_hard"], src)
            rows.append([label, str(g["n"]), cell(g, "val"), cell(g, "test_easy"), cell(g, "test_hard")])
        w.table(["point", "seeds", "easy val", "easy test", "hard test"], rows)
        w.fig(src.parent / "results.png", f"sweep {data['sweep']}", 520)


def _frontier_section(w: Any, runs_dir: Path) -> None:
    """The laziness frontier (scripts/frontier.py): one table per frontier folder (e.g. one per training recipe)."""
    w.h(3, "Laziness frontier: which networks take the shortcut")
    srcs = sorted(runs_dir.glob(f"{FRONTIER.parent}*/{FRONTIER.name}"))
    if not srcs:
        w.not_run("laziness frontier", "python scripts/frontier.py runs --design v1 --design default --strategy consistency")
        return
    for src in srcs:
        data = _load(src)
        if data:
            _frontier_table(w, src, data)


def _frontier_recipe(summary: list[dict[str, Any]]) -> str:
    lrs = {f"{e['role']}": e.get("lr") for e in summary}
    if all(v is None for v in lrs.values()):
        return ("Learning rates are not recorded in this table (it was made before they were; train.lr was then 0.001 for "
                "every role, and consistency used hue, brightness, contrast and saturation jitter).")
    return "Learning rate per role: " + ", ".join(f"{role} {lr:g}" for role, lr in lrs.items() if lr is not None) + "."


def _frontier_table(w: Any, src: Path, data: dict[str, Any]) -> None:
    w.p(f"**`{src.parent.name}`**: per network design (lazy-cnn knobs), plain ERM, the colour-blind oracle and robust strategies, "
        f"{data['epochs']} epochs, checkpoints chosen without hard data. {_frontier_recipe(data['summary'])} "
        "A design is useful for the study when ERM stays lazy (hard < 20%) while the oracle "
        "shows room for shape. kMACs/image is the cost of one forward pass (machine-independent); images/s is the training "
        "throughput of that run on the device it trained on, with other runs sharing the machine, so compare designs by MACs. "
        f"The study's own network (`{_study_model_label()}`) is the strategy table above. Produced by `{data['command']}`.")
    w.p()
    key = src.parent.name
    rows = []
    for e in data["summary"]:
        def cell(split: str) -> str:
            sd = e.get(f"{split}_std")
            return f"{100 * e[split]:.1f}" + (f" ± {100 * sd:.1f}" if sd is not None else "") + "%"
        w.num(f"{key}.{e['design']}.{e['role']}.test_hard", e["test_hard"], src)
        rows.append([f"`{e['design']}`", e["role"], f"`{e['strategy']}`", str(e["seeds"]), cell("val"), cell("test_easy"),
                     cell("test_hard"), "" if e.get("macs_per_image") is None else f"{e['macs_per_image'] / 1000:,.0f}",
                     str(e.get("device", "cpu")), f"{e['images_per_second']:,.0f}"])
    w.table(["design", "role", "strategy", "seeds", "easy val", "easy test", "hard test", "kMACs/image", "device", "images/s"], rows)
    w.p()
    for line in frontier_verdict(data["summary"]):
        w.p(line)
    if data.get("not_finished"):
        w.p()
        w.p("Not finished, so not in the table: " + ", ".join(f"`{n}`" for n in data["not_finished"]) + ".")
    w.fig(src.parent / "frontier.png", f"hard-test accuracy per design and role ({key})", 560)
