"""Section 3 of the report: the baseline's evaluation (accuracies, per-class, confusion, colour reliance) and
its counterfactual recolouring."""

from __future__ import annotations

from ..plan import train_command
from .loader import SPLITS, ReportContext

SPLIT_TITLES = {"train": "Easy train", "val": "Easy val", "test_easy": "Easy test", "test_hard": "Hard test"}


def write_baseline(ctx: ReportContext) -> None:
    w, cfg, base, ev = ctx.w, ctx.cfg, ctx.base, ctx.ev
    w.h(2, "3. Baseline")
    bf = ctx.files[base.name]
    if not ev:
        w.not_run(f"baseline {base.name}", f"{train_command(base, cfg)} && lazy eval {base.name}")
    else:
        w.p(f"`{base.name}` (strategy `{cfg.study.baseline}`, checkpoint selected on easy validation accuracy, epoch {ev.get('checkpoint_epoch')}):")
        w.p()
        w.table([SPLIT_TITLES[sp] for sp in SPLITS], [[w.num(f"baseline.{sp}", ev[sp], bf.eval) for sp in SPLITS]])
        w.p("Per-class accuracy:")
        w.p()
        w.table(["split"] + [str(k) for k in range(10)],
                [[sp] + [w.num(f"baseline.per_class.{sp}.{k}", ev["per_class"][sp][str(k)], bf.eval) for k in range(10)]
                 for sp in ("test_easy", "test_hard")])
        paths = ev.get("paths", {})
        w.fig(paths.get("confusion_test_easy"), "confusion matrix, test_easy", 360)
        w.fig(paths.get("confusion_test_hard"), "confusion matrix, test_hard", 360)
        w.p("Most confident mistakes on test_hard:")
        w.p()
        w.fig(paths.get("failures"), "failure cases", 520)
        cr = ev.get("color_reliance")
        if cr:
            w.p(f"On images of a single solid colour (no digit) the baseline's mean max-probability is "
                f"{w.num('baseline.solid_confidence', cr['solid_confidence'], bf.eval, '.3f')}, and it predicts the class whose dominant colour "
                f"it is for {w.num('baseline.solid_follows_palette', cr['solid_follows_palette'], bf.eval)} of the palette colours.")
            w.p()
        cf = bf.get("counterfactual")
        if cf and cf.get("n_images"):
            how = (f"{cf['n_images']} correctly classified, aligned test_easy images were compared with their test_hard twins (the same "
                   f"digit and nuisance with another bias value; {cf['n_recolored']} images): the prediction followed the new bias value in "
                   if cf.get("method") == "twin" else
                   f"{cf['n_images']} correctly classified, colour-aligned test_easy images were recoloured to each of "
                   f"the other nine palette colours ({cf['n_recolored']} images): the prediction followed the new colour in ")
            w.p(f"**Counterfactual evidence.** {how}"
                f"{w.num('baseline.cf.follows_new_color', cf['follows_new_color'], bf.counterfactual)}, kept the true digit in "
                f"{w.num('baseline.cf.keeps_true_label', cf['keeps_true_label'], bf.counterfactual)}, and went elsewhere in "
                f"{w.num('baseline.cf.other', cf['other'], bf.counterfactual)}.")
            w.p()
            for fp in cf.get("paths", {}).get("figures", [])[:2]:
                w.fig(fp, "counterfactual recolouring", 520)
        else:
            w.not_run("counterfactual", f"lazy counterfactual {base.name}")
