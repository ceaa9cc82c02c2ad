"""Section 1 of the report: the title, what was done and not done (with the commands that would do it), and
the headline numbers."""

from __future__ import annotations

import datetime as _dt

from ..analyses import ANALYSES
from ..plan import train_command
from .intervals import ORACLE_TOLERANCE, _oracle_is_ceiling, _pm, _seeds
from .loader import ReportContext
from .robust import glance_table
from .suite import suite_headlines
from .writer import TIMESTAMP_PREFIX


def write_summary(ctx: ReportContext) -> None:
    w, cfg, s, files, evals = ctx.w, ctx.cfg, ctx.cfg.study, ctx.files, ctx.evals
    w.p(f"# {cfg.report.title}")
    w.p()
    w.p(f"{TIMESTAMP_PREFIX}{_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')} by `lazy report`. "
        "Every number below is read from the files the runs stored (`lazy report --json` lists each number with its source).")
    w.h(2, "1. Summary")
    done, missing = [], []
    (done if ctx.ds_meta else missing).append(("dataset", "lazy make-data && lazy verify-data"))
    for sp in ctx.specs:
        (done if evals.get(sp.name) else missing).append((f"run {sp.name} ({sp.role})", f"{train_command(sp, cfg)} && lazy eval {sp.name}"))
    for a in ANALYSES.values():
        if a.always:  # eval: one part with its run, above
            continue
        for sp in ctx.scope_runs[a.scope]:
            if files[sp.name].get(a.name) is not None:
                done.append((f"{a.name} on {sp.name}", ""))
            else:
                missing.append((f"{a.name} on {sp.name}", f"lazy {a.name} {sp.name}"))
    w.p(f"**What was done.** A {s.model} was trained on Colored-MNIST ({cfg.data.correlation:.0%} digit-colour agreement in the easy "
        f"splits, none in the hard split) with the baseline `{s.baseline}` and the robust strategies "
        f"{', '.join(f'`{x}`' for x in s.strategies) or '(none)'} over {_seeds(s.seeds)}"
        + (", plus a colour-blind oracle (the baseline fed copies with every stroke recoloured to one colour)" if s.oracle else "") + f". {len(done)} parts of the study are present."
        + _analysed_note(cfg))
    w.p()
    if missing:
        w.p(f"**What was not done** ({len(missing)} parts; each can be run with the command shown):")
        w.p()
        for what, cmd in missing:
            w.p(f"- {what}: not run — `{cmd}`")
            w.sections[-1]["not_run"].append({"what": what, "command": cmd})
        w.p()
    else:
        w.p("**What was not done:** every part of the configured study is present; see Limitations for what the study does not cover.")
        w.p()
    head = headline_lines(ctx)
    base_row = ctx.row("baseline")
    if base_row:
        w.p("**Headline numbers:**")
        w.p()
        for hl in head:
            w.p(f"- {hl}")
        w.p()
        w.table(*glance_table(ctx))
        if any(r["n"] > 1 for r in ctx.rows):
            w.p("Mean ± sample std over seeds. Section 3 describes the baseline's first seed; section 5 has every strategy's "
                "seeds and intervals.")
        else:
            w.p("One seed per run, so no standard deviation: these are single runs. `lazy study <run file> --seeds 3` adds "
                "seeds to the same study (the first is reused).")
        w.p()
    for name, lines in suite_headlines(ctx.runs_dir, w.out_dir):
        w.p(f"**Shortcut suite `{name}`** (section 5; the study above covers one protocol, the suite every protocol of "
            "the generator; best hard-test mean per knowledge class, a pick made on test_hard):")
        w.p()
        for line in lines:
            w.p(f"- {line}")
        w.p()


def headline_lines(ctx: ReportContext) -> list[str]:
    """The headline numbers (one Markdown list item each, without the dash): the baseline, the best robust
    strategy by hard-test mean (said to be a pick made on test_hard), the oracle, the baseline's recolouring; each
    number registered with the files it was read from. Also the README's headline block (``blocks.py``)."""
    w, base_row = ctx.w, ctx.row("baseline")
    if not base_row:
        return []
    def pm(key: str, row: dict, col: str) -> str:
        """mean ± sample std over the row's seeds (the mean alone for one seed), registered with every file it reads."""
        files_read = row["cf_sources"] if col == "cf" else row["sources"]
        w.num(key, row[col][0], files_read[0], sources=files_read)
        return _pm(row[col])

    head = [f"baseline `{base_row['strategy']}` ({_seeds(base_row['n'])}): easy test {pm('baseline.test_easy_mean', base_row, 'easy')}, "
            f"hard test {pm('baseline.test_hard_mean', base_row, 'hard')}"]
    robust = [r for r in ctx.rows if r["role"] == "robust"]
    best = max(robust, key=lambda r: r["hard"][0], default=None)
    if best:
        which = (f"highest hard-test mean of the {len(robust)} robust strategies (a pick made on test_hard; every one is in "
                 "the table below): " if len(robust) > 1 else "robust strategy: ")
        head.append(f"{which}`{best['strategy']}` ({_seeds(best['n'])}), hard test "
                    f"{pm('best_robust.test_hard_mean', best, 'hard')} at easy test {pm('best_robust.test_easy_mean', best, 'easy')}")
    orc = ctx.row("oracle")
    if orc:
        if _oracle_is_ceiling(orc):
            head.append(f"colour-blind oracle (not a method; {_seeds(orc['n'])}): hard test {pm('oracle.test_hard_mean', orc, 'hard')}"
                        f", easy test {pm('oracle.test_easy_mean', orc, 'easy')}: this network's colour-blind reference "
                        "(its easy and hard accuracies agree)")
        else:
            head.append(f"the oracle is NOT colour-blind (easy {100 * orc['easy'][0]:.1f}% vs hard {100 * orc['hard'][0]:.1f}%, "
                        f"more than {100 * ORACLE_TOLERANCE:.0f} point apart): it is not quoted as a reference")
    if base_row["cf"][0] is not None:
        head.append(f"recolouring an image makes the baseline follow the new colour in "
                    f"{pm('baseline.cf_follows_mean', base_row, 'cf')} of cases ({_seeds(len(base_row['cf_sources']))})")
    from .lazymap import map_position

    t = ctx.cfg.train
    where = map_position(ctx.runs_dir, ctx.cfg.data.protocol, ctx.cfg.data.correlation, t.learning_rate(), t.epochs)
    if where:
        head.append(where)
    return head


def _analysed_note(cfg) -> str:
    """What ``study.analysed`` left out, when it leaves out a strategy."""
    s = cfg.study
    left_out = [x for x in s.strategies if x not in s.analysed] if s.analysed else []  # the baseline is always in it
    if not left_out:
        return ""
    per_model = [a.name for a in ANALYSES.values() if a.scope == "first" and a.name in s.analyses]
    every = [a.name for a in ANALYSES.values() if a.scope == "every" and (a.always or a.name in s.analyses)]
    return (f" The per-model analyses ({', '.join(per_model) or 'none configured'}) look only at "
            f"{', '.join(f'`{x}`' for x in s.analysed)} (`study.analysed`); {', '.join(f'`{x}`' for x in left_out)} "
            f"{'has' if len(left_out) == 1 else 'have'} {' and '.join(every)} only.")
