"""A tuned sweep (``tune = true``) as the field's benchmark table: one row per method, two columns per share of
bias-conflicting images (the swept ``data.correlation``), beside the published numbers of the sweep's [reference].

- *as the paper's code*: the final epoch's model (``last_unbiased``) of the method's default configuration (the
  untuned point), what LfF's released code keeps;
- *the rule's choice* (bias-unsupervised for ``val-proxy-group``): the configuration of the method's tuning grid
  whose checkpoints have the highest mean rule score over seeds (``selection_score``: for ``val-proxy-group``, val
  accuracy over the shared proxy's pseudo-groups), and its checkpoints' unbiased accuracy. No test split is read to
  choose; ``val-proxy-group`` reads no bias label either.
Mean ± sample std over seeds; configurations are compared on the seeds every configuration of the family has (with
``tune_seeds``: those), and the chosen one is reported over all its seeds.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any, Optional

from ..sweep_reference import matches, value_text
from ..tuning import choose
from .writer import Writer


def _cell(values: list[float]) -> str:
    if not values:
        return "—"
    mean = 100 * statistics.fmean(values)
    return f"{mean:.1f}" + (f" ± {100 * statistics.stdev(values):.1f}" if len(values) > 1 else "")


def best_unaware(rows: dict[tuple[str, float], dict[str, Any]], knows: dict[str, str], corr: float
                 ) -> Optional[tuple[str, float]]:
    """(strategy, mean unbiased) of the best method that knows nothing about the bias under the rule, at ``corr``."""
    cands = [(statistics.fmean(r["unsupervised"]), m) for (m, c), r in rows.items()
             if c == corr and r["unsupervised"] and knows.get(m) == "nothing"]
    return (max(cands)[1], max(cands)[0]) if cands else None


def tuning_keys(strategy: str) -> list[str]:
    """The keys of ``strategy``'s tuning grid (its module's ``tuning``): what sets a configuration apart from the default
    (other keys a point sets, e.g. DFA's learning rate, are part of the method's default)."""
    from ...strategies import STRATEGIES

    return list(STRATEGIES[strategy].tuning) if strategy in STRATEGIES else []


def grid_rows(data: dict[str, Any]) -> dict[tuple[str, float], dict[str, Any]]:
    """(strategy, correlation) -> {"paper": [last_unbiased per seed], "unsupervised": [unbiased per seed of the chosen
    configuration], "chosen": its tuned values, "configs": how many configurations, "seeds": n}."""
    families: dict[tuple, dict[tuple, dict[int, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    for p in data["points"]:
        if p.get("status") == "failed" or p.get("strategy") is None:
            continue
        corr = p.get("axis:data.correlation")
        config = tuple((k, value_text(p[f"axis:{k}"])) for k in tuning_keys(p["strategy"]) if f"axis:{k}" in p)
        families[(p["strategy"], corr)][config][p.get("axis:seed", 0)] = p
    out = {}
    for fam, configs in families.items():
        seeds = set.intersection(*(set(runs) for runs in configs.values()))
        default = configs.get(())
        paper = [default[s]["last_unbiased"] for s in sorted(default) if default[s].get("last_unbiased") is not None] \
            if default else []
        # chosen on the seeds every configuration has (a tie: the default), reported over all the chosen one's seeds
        best = choose({config: [runs[s].get("selection_score") for s in sorted(seeds)]
                       for config, runs in configs.items()}) if seeds else None
        runs = configs[best] if best is not None else {}
        out[fam] = {"paper": paper, "unsupervised": [runs[s]["unbiased"] for s in sorted(runs)],
                    "chosen": dict(best) if best else {}, "configs": len(configs), "seeds": len(runs),
                    "chosen_on": len(seeds), "paper_seeds": len(paper)}
    return out


def grid_table(w: Writer, data: dict[str, Any], src: Path) -> None:
    rows = grid_rows(data)
    if not rows:
        return
    labels = data.get("labels", {})
    shares = sorted({c for _, c in rows}, reverse=True)
    methods = list(dict.fromkeys(s for s, _ in rows))
    ref = data.get("reference") or {}
    names = labels.get("train.strategy", {})
    share_names = labels.get("data.correlation", {})
    sources = list(dict.fromkeys(rp.get("source") or ref.get("source") for rp in ref.get("points", [])))

    def published(strategy: str, corr: float, last: bool) -> str:
        """The published number in brackets beside the column its reference point is compared with (a ``last_*``
        metric: the paper's-code column), with its source's number when the numbers come from several."""
        for rp in ref.get("points", []):
            metric = rp.get("metric") or ref.get("metric", "")
            if metric.startswith("last_") == last and matches({"train.strategy": strategy, "data.correlation": corr},
                                                              rp["match"]):
                tag = f" [{sources.index(rp.get('source') or ref['source']) + 1}]" if len(sources) > 1 else ""
                return f" ({rp['value']:.2f}{tag})"
        return ""

    cost = _costs(w, data)
    share_head = [share_names.get(value_text(c), f"{100 * (1 - c):g}%") for c in shares]
    rule_of = {p["strategy"]: p.get("select") for p in data["points"] if p.get("strategy")}

    def seeds(m: str, key: str) -> str:
        n = sorted({rows[(m, c)][key] for c in shares if (m, c) in rows})
        return f"{n[0]}" if len(n) == 1 else f"{n[0]}-{n[-1]}"

    paper, chosen_rows = [], []
    for m in methods:
        name = names.get(m, m)
        configs = str(max((rows[(m, c)]["configs"] for c in shares if (m, c) in rows), default=0))
        a = [name, seeds(m, "paper_seeds"), f"{cost[m]:.0f}" if m in cost else "—"]
        b = [name, f"`{rule_of.get(m)}`", configs, seeds(m, "seeds")]
        for c in shares:
            r = rows.get((m, c))
            if r is None:
                a.append("—" + published(m, c, True))
                b.append("—" + published(m, c, False))
                continue
            if r["paper"]:
                w.num(f"sweep.{data['sweep']}.{m}.{c}.paper_last_unbiased", statistics.fmean(r["paper"]), src)
            if r["unsupervised"]:
                w.num(f"sweep.{data['sweep']}.{m}.{c}.unsupervised_unbiased", statistics.fmean(r["unsupervised"]), src)
            picked = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in r["chosen"].items())
            a.append(_cell(r["paper"]) + published(m, c, True))
            b.append(_cell(r["unsupervised"]) + (f" [{picked}]" if picked else "") + published(m, c, False))
        paper.append(a)
        chosen_rows.append(b)
    targets = ref.get("targets", [])
    for tname in dict.fromkeys(t["name"] for t in targets):
        row = [f"{tname} (published)", "—", "—", "—"]
        for c in shares:
            hit = next((t for t in targets if t["name"] == tname and matches({"data.correlation": c}, t["match"])), None)
            row.append(f"({hit['value']:.2f})" if hit else "—")
        chosen_rows.append(row)
    cited = "; ".join(f"[{i + 1}] {x}" for i, x in enumerate(sources)) if len(sources) > 1 else (sources[0] if sources else "")
    w.p("Unbiased accuracy, %, mean ± sample std over the seeds finished (*seeds*); published numbers in brackets"
        + (f" ({cited})" if cited else "") + ". Points not yet trained are left out, so a cell can change as they finish.")
    w.p()
    w.p("*The final epoch* of each method's default configuration: what LfF's released code keeps. DFA's and LC's "
        "code report the best *test* accuracy over the run and JTT's paper chooses by worst-group validation "
        "accuracy: this tool never selects on test data, so for them this column is the final epoch, not their "
        "choice. *Cost*: one run of the default configuration, training (and refit, and its bias proxy), mean over its "
        "runs, in bare ERM epochs (ERM's mean epoch in its default runs).")
    w.p()
    w.table(["method", "seeds", "cost", *share_head], paper)
    w.p("*The rule's choice*: the configuration (of the *configs* of its tuning grid that have finished; the chosen "
        "one in square brackets when not the default) and the checkpoint that each method's *rule* chooses: the "
        "highest mean rule score over the seeds every finished configuration has (a tie: the default)"
        + (f"; the other configurations train at seed {', '.join(str(x) for x in data['tune_seeds'])} only "
           "(`tune_seeds`), and the chosen one at every seed" if data.get("tune_seeds") else "")
        + ". *Seeds*: the chosen configuration's, over which its accuracy is given. "
        "`val-proxy-group` reads no bias label: for the methods that know nothing this is the bias-unsupervised "
        "column; `val-worst-group` (GroupDRO) and DFR's refit read the group labels of val.")
    w.p()
    w.table(["method", "rule", "configs", "seeds", *share_head], chosen_rows)
    _proxy_line(w, data, shares, share_names)
    knows = {p["strategy"]: p.get("knows") for p in data["points"] if p.get("strategy")}
    for name in dict.fromkeys(t["name"] for t in targets):
        gaps = []
        for c in shares:
            hit = next((t for t in targets if t["name"] == name and matches({"data.correlation": c}, t["match"])), None)
            best = best_unaware(rows, knows, c)
            if hit and best:
                gaps.append(f"{share_names.get(value_text(c), f'{100 * (1 - c):g}%')}: {names.get(best[0], best[0])} "
                            f"{100 * best[1]:.1f} vs {hit['value']:.2f} ({100 * best[1] - hit['value']:+.1f})")
                w.num(f"sweep.{data['sweep']}.{c}.best_unaware_minus_{name}", best[1] - hit["value"] / 100, src)
        note = next((t.get("note") for t in targets if t["name"] == name and t.get("note")), "")
        if gaps:
            w.p(f"Against {name} ({next(t['source'] for t in targets if t['name'] == name)}"
                + (f"; {name} was {note}" if note else "") + "), the highest rule's-choice number of a method that "
                "knows nothing about the bias, per share (a comparison, not a choice: every method is reported above; "
                "over the seeds finished): " + "; ".join(gaps) + ".")
            w.p()


def _proxy_line(w: Writer, data: dict[str, Any], shares: list[float], share_names: dict[str, str]) -> None:
    """How well each share's shared bias proxy (seed 0's, as stored with a run) tells the bias: a diagnostic read with
    val's bias labels, never used to choose."""
    from .loader import _load

    parts = []
    for c in shares:
        runs = [p["run"] for p in data["points"] if p.get("axis:data.correlation") == c and p.get("strategy")
                and p.get("select") == "val-proxy-group"]
        info = next((_load(w.runs_dir / r / "proxy.json") for r in runs if (w.runs_dir / r / "proxy.json").is_file()), None)
        if info:
            parts.append(f"{share_names.get(value_text(c), f'{100 * (1 - c):g}%')}: {100 * info['val_predicts_bias']:.1f}% of val "
                         f"({info['groups_present']} pseudo-groups)")
    if parts:
        w.p("The rule's bias proxy (GCE, 5 epochs, one per seed) predicts the bias value of "
            + "; ".join(parts) + " (a diagnostic read with val's bias labels; nothing is chosen on it).")
        w.p()


def _costs(w: Writer, data: dict[str, Any]) -> dict[str, float]:
    """Each method's mean training seconds per run in units of one bare ERM epoch of the same sweep (the mean epoch of
    its finished ERM runs); a line gives the whole of what finished in those units. Empty without histories."""
    from .loader import _load
    from .suite import _epoch_seconds, _train_seconds

    done = [p for p in data["points"] if p.get("strategy") and p.get("status") not in ("failed", "pending")]
    default = [p for p in done if not any(f"axis:{k}" in p for k in tuning_keys(p["strategy"]))]
    # the unit and the per-method costs from the default configurations (they ran side by side); every finished point
    # counts in the total
    erm = [s for p in default if p["strategy"] == "erm" for s in _epoch_seconds(w.runs_dir / p["run"])]
    if not erm:
        return {}
    epoch = statistics.fmean(erm)
    per: dict[str, list[float]] = defaultdict(list)
    every: list[float] = []
    for p in done:
        t = _train_seconds(w.runs_dir / p["run"])
        proxy = _load(w.runs_dir / p["run"] / "proxy.json") if (w.runs_dir / p["run"] / "proxy.json").is_file() else None
        if t:
            every.append((t + float((proxy or {}).get("seconds", 0.0))) / epoch)
            if p in default:
                per[p["strategy"]].append(every[-1])
    total = sum(every)
    w.p(f"Compute of the {len(every)} finished points (training, refits and bias proxies): "
        f"{total:,.0f} bare ERM epochs of this network (one took {epoch:.2f} s on average in the default ERM runs, with "
        "the sweep's workers sharing the machine; other work on it slowed some points 2-3x, so a cost is a rough "
        "guide)." + _wall(data))
    w.p()
    return {m: statistics.fmean(v) for m, v in per.items()}


def _wall(data: dict[str, Any]) -> str:
    """The wall time of the sweep's invocations that trained points (results.json's ``invocations``), as a sentence."""
    runs = [x for x in data.get("invocations") or [] if x.get("trained")]
    if not runs:
        return ""
    how = sorted({f"--executor {x['executor']} x{x['workers']}" for x in runs})
    return (f" Wall time of the {len(runs)} invocation{'s' if len(runs) > 1 else ''} that trained them "
            f"({sum(x['trained'] for x in runs)} points, {', '.join(how)}): {sum(x['seconds'] for x in runs) / 3600:.1f} h.")
