"""Section 7 of the report, sparse autoencoders: held-out quality against the targets, feature labels, and
interventions with CIs."""

from __future__ import annotations

from typing import Any, Optional

from .intervals import FLIP_SMALL, _bootstrap_list, _ci_cell, _sep_suffix, _separates, _share_cell
from .loader import ReportContext, RunFiles
from .writer import Writer, _run_figures


def write_saes(ctx: ReportContext) -> None:
    w, files, first = ctx.w, ctx.files, ctx.first
    w.h(2, "7. Sparse autoencoders")
    if any(files[sp.name].get("sae") for sp in first):
        _sae_section(w, first, files)
    else:
        w.not_run("sae", f"lazy sae {' '.join(sp.name for sp in first)}")


def _sae_section(w: Writer, runs: list[Any], files: dict[str, RunFiles]) -> None:
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
        f"({lab.get('digits_per_class', '?')} test_easy digits per class, each in all {lab.get('colors', '?')} colours) by the "
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
