"""Section 8 of the report: the computed discussion (did the baseline take the shortcut, which strategies
helped and how far from the oracle), limitations, future work, and the appendix (configuration, versions,
compute, the commands that reproduce the report)."""

from __future__ import annotations

import json

from ..analyses import ANALYSES
from ..common import ENVIRONMENTS
from ..plan import STUDY_FILE, train_command
from .intervals import GAIN, SHORTCUT_GAP, _oracle_is_ceiling, _pm, _seeds
from .loader import ReportContext, _load


def write_discussion(ctx: ReportContext) -> None:
    w, cfg, files, specs, base = ctx.w, ctx.cfg, ctx.files, ctx.specs, ctx.base
    w.h(2, "8. Discussion, limitations, future work")
    base_row = ctx.row("baseline")
    if base_row:
        seeds = f"mean ± std over {_seeds(base_row['n'])}" if base_row["n"] > 1 else _seeds(1)
        gap = base_row["easy"][0] - base_row["hard"][0]
        if gap > SHORTCUT_GAP:
            w.p(f"The baseline learned the shortcut: {_pm(base_row['easy'])} on easy test against {_pm(base_row['hard'])} on hard test "
                f"({seeds}), where only the digit-colour pairing differs.")
        else:
            w.p(f"The baseline shows no large shortcut gap ({_pm(base_row['easy'])} easy vs {_pm(base_row['hard'])} hard, {seeds}); "
                "check the training length and the dataset's correlation before reading the other sections.")
        w.p()
        gains = lambda role: sorted((r for r in ctx.rows if r["role"] == role and r["hard"][0] > base_row["hard"][0] + GAIN),
                                    key=lambda r: -r["hard"][0])
        better, extra = gains("robust"), gains("extra")
        orc = ctx.row("oracle")
        if better:
            top = better[0]
            up = lambda r: f"{100 * (r['hard'][0] - base_row['hard'][0]):.1f}"
            if len(better) == 1:
                lead = (f"With the same architecture and data, `{top['strategy']}` raised hard-test accuracy by {up(top)} points over "
                        f"the baseline, to {_pm(top['hard'])} ({_seeds(top['n'])})")
            else:
                lead = (f"With the same architecture and data, {len(better)} robust strategies raised hard-test accuracy by more than "
                        f"{100 * GAIN:.0f} points: " + ", ".join(f"`{r['strategy']}` (+{up(r)} points)" for r in better)
                        + f"; the highest, `{top['strategy']}`, reaches {_pm(top['hard'])} ({_seeds(top['n'])})")
            w.p(lead + (f"; the colour-blind oracle reaches {_pm(orc['hard'])}, so "
                        f"{100 * (orc['hard'][0] - top['hard'][0]):.1f} points remain between `{top['strategy']}` and the colour-blind reference."
                        if orc and _oracle_is_ceiling(orc) else "."))
            w.p()
        else:
            w.p(f"No robust strategy of the study raised hard-test accuracy by more than {100 * GAIN:.0f} points over the baseline in these runs.")
            w.p()
        if extra:
            w.p("Runs beyond the study (section 5's *extra* rows: other learning rates or options) that did: "
                + ", ".join(f"`{r['strategy']}` (+{100 * (r['hard'][0] - base_row['hard'][0]):.1f} points)" for r in extra)
                + "; they are ablations, not the study's claims.")
            w.p()
    w.p("**Limitations.** One small architecture; this study's shift is one synthetic colour shortcut (the shortcut suite, when "
        "present in section 5, adds other protocols), and most of its robust strategies use what they know of it (the palette, colour "
        "operations, group labels). Seeds are few; the standard deviations are over those seeds only. The unit "
        "and SAE labels depend on thresholds (stored with each result). Attacks are white-box targeted L-inf attacks on a few "
        f"source/target pairs ({len(cfg.attack.pairs)}), not an adversarial-robustness evaluation in general; the per-model analyses "
        "(units, attributions, SAEs) look at one seed per strategy, and their intervals are over images or units, not over seeds.")
    w.p()
    w.p("**Future work.** More methods that are not told about the shortcut (DFA), every method of the shortcut suite at the same "
        "learning rates and epoch budgets (`lazy sweep experiments/suite.toml`), larger models (`--model resnet18`), ablations of each strategy's "
        "components, and attacks that target colour directly.")
    w.p()
    w.h(3, "Appendix: configuration, versions, commands")
    conf = _load(files[base.name].config) if files[base.name].config.is_file() else None
    if conf:
        tr = conf["config"]["train"]
        env = conf.get("environment", {})
        w.table(["setting", "value"], [[k, f"`{tr[k]}`"] for k in ("model", "epochs", "batch_size", "lr", "weight_decay")]
                + [["seeds", ", ".join(str(x) for x in sorted({sp.seed for sp in specs}))],
                   ["device", f"`{env.get('device')}`"],
                   ["precision", f"`{env.get('precision', 'fp32')}` (training; `lazy eval` and the analyses run in fp32, but for "
                    "PGD's gradient steps, `attack.precision`)"],
                   ["torch", f"`{env.get('torch_version')}`"],
                   ["python", f"`{env.get('python_version')}`"], ["lazy", f"`{env.get('lazy_version')}`"]]
                + _analysis_environments(files[base.name].dir / ENVIRONMENTS, base.name))
        for sp in [base] + [x for x in specs if x.role == "robust" and x.seed == base.seed]:
            c = _load(files[sp.name].config)
            if c:
                w.p(f"- `{sp.strategy}` options: `{json.dumps(c['config']['strategy'].get(sp.strategy, {}), sort_keys=True)}`")
        w.p()
    study_rec = _load(ctx.runs_dir / cfg.report.dir / STUDY_FILE)  # the reported runs' record (--results: the committed one)
    if study_rec:
        total = sum(x.get("compute_seconds", 0) for x in study_rec.get("steps", []))
        partial = (" The last `lazy study` stopped at a failed step, so this counts only the steps that finished."
                   if study_rec.get("complete") is False else "")
        w.p(f"Compute recorded by `lazy study` (each step's time when it last ran, summed over steps; steps that ran "
            f"side by side in worker processes count in full): {total / 60:.1f} minutes.{partial}")
        w.p()
    w.p("Commands that reproduce this report (run file: the one given to `lazy study`):")
    w.p()
    w.p("```bash")
    w.p("lazy study -c <run file>        # all of the below, resumable")
    w.p("lazy make-data && lazy verify-data")
    for sp in specs:
        w.p(train_command(sp, cfg))
    for a in ANALYSES.values():
        w.p(f"lazy {a.name} {' '.join(sp.name for sp in ctx.scope_runs[a.scope])}")
    w.p("lazy report")
    w.p("```")


def _analysis_environments(path, run: str) -> list[list[str]]:
    """Appendix rows: where the baseline's analyses ran (``<run>/environments.json``), grouped by device,
    torch and lazy version; none for runs analysed before the file existed."""
    doc = _load(path)
    envs = {k: v for k, v in doc.items() if isinstance(v, dict)} if isinstance(doc, dict) else {}
    groups: dict[tuple, list[str]] = {}
    for analysis, env in envs.items():
        groups.setdefault((env.get("device"), env.get("torch_version"), env.get("lazy_version")), []).append(analysis)
    return [[f"analyses of `{run}`", f"{', '.join(names)}: `{dev}`, torch `{torch}`, lazy `{lazy}`"]
            for (dev, torch, lazy), names in sorted(groups.items(), key=lambda kv: kv[1])]
