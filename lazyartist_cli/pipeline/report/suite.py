"""The shortcut suite in the report: a sweep over ``data.protocol`` read as one table
protocol x method x knowledge class (``suite.toml``), the baseline's laziness per protocol,
and the best method of each knowledge class per protocol."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any, Iterable, Optional

from ...strategies.base import KNOWLEDGE
from .intervals import _row_ci
from .loader import _load
from .writer import Writer

LAZY_EASY, LAZY_HARD = 0.95, 0.20  # the baseline counts as lazy above this easy val and below this hard test


def is_suite(data: dict[str, Any]) -> bool:
    """A sweep is read as a suite when it varies the protocol and its points say what they know."""
    return "data.protocol" in data.get("axes", {}) and any(p.get("knows") for p in data.get("points", []))


def suite_groups(points: list[dict[str, Any]], runs_dir: Optional[Path] = None,
                 choose: Iterable[str] = ("train.lr",)) -> list[dict[str, Any]]:
    """Points grouped by everything but the seed: per group the runs and each score's values over seeds. The keys
    in ``choose`` (the sweep file's, by default the learning rate) are left out of the group's label: groups that
    differ only in them form one family, in which the method's own rule chooses (``choose_learning_rates``); each
    group's values of them other than the rate are its ``picks``. A point stored before rows carried their rule's
    score gets it from its run's history."""
    from ..selection import selection_score

    chosen_keys = {f"axis:{k}" for k in choose} | {"axis:train.lr"}
    groups: dict[tuple, dict[str, Any]] = {}
    for p in points:
        if p.get("status") == "failed" or p.get("test_hard") is None:
            continue
        axes = tuple((k, str(v)) for k, v in p.items() if k.startswith("axis:") and k not in ("axis:seed", "axis:train.seed"))
        g = groups.setdefault(axes, {"protocol": p.get("protocol"), "strategy": p.get("strategy"), "knows": p.get("knows"),
                                     "select": p.get("select"), "lr": p.get("lr"), "input": p.get("input", "rgb"),
                                     "label": ", ".join(f"{k[5:]}={v}" for k, v in axes if k not in (
                                         "axis:data.protocol", "axis:train.strategy", *chosen_keys)),
                                     "picks": {k[5:]: p[k] for k in p if k in chosen_keys and k != "axis:train.lr"},
                                     "runs": [], "values": {}})
        if p.get("selection_score") is None and runs_dir is not None and (runs_dir / p["run"] / "config.json").is_file():
            p = {**p, "selection_score": selection_score(runs_dir / p["run"], p.get("checkpoint_epoch"))}
        g["runs"].append(p["run"])
        g.setdefault("dataset", p.get("dataset"))
        g.setdefault("train_seconds", []).append(_train_seconds(runs_dir / p["run"]) if runs_dir else None)
        for key in ("val", "test_easy", "test_hard", "unbiased", "worst_group", "selection_score"):
            g["values"].setdefault(key, []).append(p.get(key))
    return list(groups.values())


def method_name(g: dict[str, Any]) -> str:
    """The method as the tables name it: its strategy, the options that set it apart, and the values its rule chose
    of the other keys the sweep lets it choose (with the values it chose from)."""
    picks = [f"{k.split('.')[-1]}={v}" + (f" of {', '.join(str(x) for x in g['options'][k])}"
                                          if len(g.get("options", {}).get(k, ())) > 1 else "")
             for k, v in g.get("picks", {}).items()]
    extra = ", ".join(x for x in (g["label"], *picks) if x)
    return f"`{g['strategy']}`" + (f" ({extra})" if extra else "")


def _train_seconds(run: Path) -> Optional[float]:
    """The seconds a run spent in its training epochs (history.jsonl) and in a refit after them (refit.json, DFR's
    last layer), without its evaluation: what the cost column compares (a sweep's own seconds are 0 for a point it
    reused)."""
    hist = run / "history.jsonl"
    if not hist.is_file():
        return None
    rows = [json.loads(line) for line in hist.read_text().splitlines() if line.strip()]
    refit = _load(run / "refit.json") or {}
    return (sum(r.get("seconds", 0.0) for r in rows) + float(refit.get("seconds", 0.0))) or None


def _epoch_seconds(run: Path) -> list[float]:
    """The seconds of each training epoch of a run (history.jsonl), scoring excluded."""
    hist = run / "history.jsonl"
    rows = [json.loads(line) for line in hist.read_text().splitlines() if line.strip()] if hist.is_file() else []
    return [float(r["seconds"]) for r in rows if r.get("seconds")]


def _cost(g: dict[str, Any], groups: list[dict[str, Any]]) -> str:
    """Training time in units of the same protocol's baseline run (the ratio of means over seeds)."""
    base = next((b for b in groups if b["protocol"] == g["protocol"] and b["strategy"] == "erm" and not b["label"]), None)
    mine, ref = g.get("train_seconds", []), (base or {}).get("train_seconds", [])
    if not mine or not ref or any(v is None for v in mine + ref):
        return "—"
    return f"{statistics.fmean(mine) / statistics.fmean(ref):.2f}"


def choose_learning_rates(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One learning rate (and one value of each other key the sweep lets the rule choose) per (protocol, method,
    other options), chosen by the method's own checkpoint rule: the highest mean over seeds of the score that rule
    gave the selected checkpoints (easy val, recoloured val or worst-group val; never hard data). Marks each group
    ``chosen``, ``of`` (the rates it was chosen from) and ``options`` (the values of its other chosen keys)."""
    families: dict[tuple, list[dict[str, Any]]] = {}
    for g in groups:
        families.setdefault((g["protocol"], g["strategy"], g["label"], g["input"]), []).append(g)
    for fam in families.values():
        def score(g: dict[str, Any]) -> float:
            vals = g["values"]["selection_score"]
            return statistics.fmean(vals) if vals and all(v is not None for v in vals) else float("-inf")

        # a rule that scores nothing (``last``) cannot choose between several values: none is chosen
        best = max(fam, key=score) if len(fam) == 1 or any(score(g) > float("-inf") for g in fam) else None
        for g in fam:
            g["chosen"] = g is best
            g["of"] = sorted({x["lr"] for x in fam if x["lr"] is not None})
            g["options"] = {k: sorted({x["picks"][k] for x in fam if k in x["picks"]}, key=_order) for k in g["picks"]}
    return groups


def _order(value: Any) -> tuple:
    """Numbers in their order, before any other value in its text's order."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return (0, value, "") if number else (1, 0, str(value))


def _lr_figure(groups: list[dict[str, Any]], path: Path) -> Optional[Path]:
    """The baseline's hard-test accuracy against its learning rate, one line per protocol."""
    base = [g for g in groups if g["strategy"] == "erm" and not g["label"] and g["input"] == "rgb"]
    if len({g["lr"] for g in base}) < 2:
        return None
    from ...figures import save
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for proto in dict.fromkeys(g["protocol"] for g in base):
        pts = sorted((g["lr"], statistics.fmean(g["values"]["test_hard"]), statistics.fmean(g["values"]["val"]))
                     for g in base if g["protocol"] == proto)
        line, = ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], "o-", label=f"{proto} hard")
        ax.plot([p[0] for p in pts], [100 * p[2] for p in pts], "o--", color=line.get_color(), alpha=0.5)
    ax.axhline(100 * LAZY_HARD, color="gray", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (Adam)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("solid: hard test; dashed: easy val", fontsize=8)
    ax.legend(fontsize=7)
    return save(fig, path, dpi=110, suptitle="the baseline's laziness against its learning rate")


def _cell(vals: list[Optional[float]]) -> str:
    if not vals or any(v is None for v in vals):
        return "—"
    m = statistics.fmean(vals)
    return f"{100 * m:.1f}" + (f" ± {100 * statistics.stdev(vals):.1f}" if len(vals) > 1 else "") + "%"


def _ci(vals: list[float], n_hard: Optional[int]) -> str:
    ci = _row_ci(vals, n_hard)
    return f"[{100 * ci[1]:.1f}, {100 * ci[2]:.1f}]" if ci else "—"


def suite_section(w: Writer, data: dict[str, Any], src: Path) -> list[str]:
    """The suite's table and headline; returns the headline lines (for the summary)."""
    groups = choose_learning_rates(suite_groups(data["points"], w.runs_dir, data.get("choose", ["train.lr"])))
    every = groups
    several = any(len(g["of"]) > 1 or any(len(v) > 1 for v in g["options"].values()) for g in groups)
    others = [k for k in data.get("choose", []) if k != "train.lr" and any(k in g["picks"] for g in groups)]
    groups = [g for g in groups if g["chosen"]]
    protocols = list(dict.fromkeys(str(p) for p in data["axes"]["data.protocol"]))
    order = {k: i for i, k in enumerate(KNOWLEDGE)}
    groups.sort(key=lambda g: (protocols.index(g["protocol"]) if g["protocol"] in protocols else 99,
                               order.get(g["knows"], 99), -statistics.fmean(g["values"]["test_hard"])))
    w.p("**The shortcut suite.** Each protocol draws the bias differently (`lazy make-data --set data.protocol=...`: "
        "`foreground`/`background`/`lff` colour, `decoy` a corner patch's shade, `texture` a background grating's "
        "orientation); every method trains the same network on each. *Knows* is what the method is told about the "
        "bias, one of: " + "; ".join(KNOWLEDGE) + ". *Selection* is its checkpoint rule, the strongest its knowledge "
        "allows (never hard data). *Unbiased* is the mean accuracy over the 100 (class, bias value) groups (aligned "
        "groups from test_easy, the others from test_hard; LfF's unbiased accuracy), *worst group* the lowest of them; "
        "bias-conflicting accuracy is the hard-test column (every test_hard image conflicts). Mean ± sample std over "
        "seeds; the 95% CI is a t-interval over seeds, or a bootstrap over the test_hard images for one seed. "
        + ("Each method's learning rate" + (" (and " + ", ".join(f"`{k}`" for k in others) + ", where the sweep tries "
           "several values of it)" if others else "") + " is chosen per protocol by its own checkpoint rule (the highest "
           "mean rule score of its selected checkpoints over seeds; never hard data), the baseline's included; the "
           "values tried and the rest of every method's options are as configured (*as configured*: nothing else was "
           "tuned on this suite)."
           if several else "Methods ran with their default options and learning rates (*as configured*: none was "
           "tuned on this suite)."))
    w.p()
    rows = []
    for g in groups:
        v = g["values"]
        dataset = g.get("dataset") or ((_load(w.runs_dir / g["runs"][0] / "config.json") or {}).get("config", {})
                                       .get("train", {}).get("dataset"))  # points stored before rows named it
        meta = _load(w.runs_dir / "datasets" / str(dataset) / "metadata.json") or {}
        n_hard = meta.get("sizes", {}).get("test_hard")  # the images a single run's bootstrap resamples
        name = method_name(g)
        tag = ", ".join(x for x in (g["label"], *(f"{k}={v}" for k, v in g["picks"].items())) if x)
        w.num(f"suite.{g['protocol']}.{g['strategy']}{'.' + tag if tag else ''}.test_hard",
              statistics.fmean(v["test_hard"]), src)
        lr = f"{g['lr']:g}" if g["lr"] else "—"
        if len(g["of"]) > 1:
            lr += f" (of {', '.join(f'{x:g}' for x in g['of'])})"
        rows.append([f"`{g['protocol']}`", name, str(g["knows"]), str(g["select"]), lr,
                     str(len(g["runs"])), _cell(v["val"]), _cell(v["test_hard"]), _ci(v["test_hard"], n_hard),
                     _cell(v["unbiased"]), _cell(v["worst_group"]), _cost(g, groups)])
    w.table(["protocol", "method", "knows", "selection", "lr", "seeds", "easy val", "hard test", "hard 95% CI",
             "unbiased", "worst group", "cost"], rows)
    from ...strategies import STRATEGIES

    refitted = sorted({g["strategy"] for g in groups if getattr(STRATEGIES.get(g["strategy"]), "refits", False)})
    if refitted:
        w.p(", ".join(f"`{s}`" for s in refitted) + ": the last layer is refitted on the validation split after "
            "training, so its *easy val* is measured on its own training data (in-sample), not held out.")
        w.p()
    seconds = [s for g in every for s in g.get("train_seconds", []) if s]
    base_runs = [s for g in every if g["strategy"] == "erm" and not g["label"] for s in g.get("train_seconds", []) if s]
    epochs = [e for g in every if g["strategy"] == "erm" and not g["label"] for r in g["runs"]
              for e in _epoch_seconds(w.runs_dir / r)]
    epoch = statistics.fmean(epochs) if epochs else None
    if seconds and base_runs:
        w.p(f"*Cost* is a method's training time over its protocol's baseline run (mean over seeds; the same epoch "
            f"budget, so it counts the extra forward passes, JTT's longer epochs and DFR's refit). The {len(seconds)} runs trained for "
            f"{sum(seconds) / 60:.0f} minutes in all, {sum(seconds) / statistics.fmean(base_runs):.1f} baseline runs"
            + (f" or {sum(seconds) / epoch:.0f} bare ERM epochs (one ERM training epoch took {epoch:.1f} s on average "
               "here, its scoring excluded)" if epoch else "") + "; "
            + ("the sweep's last invocation reused every point, so it gives no wall time (it measured no training). "
               if all(p.get("status") == "reused" for p in data["points"]) else
               f"the sweep's wall time was {data.get('seconds', 0) / 60:.0f} minutes with `--executor "
               f"{data.get('executor')}` x{data.get('workers')} (its last invocation, which reuses finished points). ")
            + "Times on a shared CPU vary with its load, and points added in later invocations (or run beside another "
            "sweep) saw another load: ratios of runs trained side by side are the comparable part.")
        w.p()
    if several:
        w.p("Every learning rate" + (" and option value" if others else "") + " tried (the chosen one in bold; *rule score* is the mean score of the selected "
            "checkpoints under the method's own rule, which made the choice):")
        w.p()
        w.table(["protocol", "method", "lr", "seeds", "rule score", "easy val", "hard test"], [
            [f"`{g['protocol']}`", method_name(g) + (" **chosen**" if g["chosen"] and g["picks"] else ""),
             (f"**{g['lr']:g}**" if g["chosen"] else f"{g['lr']:g}") if g["lr"] else "—", str(len(g["runs"])),
             _cell(g["values"]["selection_score"]), _cell(g["values"]["val"]), _cell(g["values"]["test_hard"])]
            for g in every])
        w.fig(_lr_figure(every, w.out_dir / "figures" / f"suite_{data['sweep']}_baseline_lr.png"),
              "baseline laziness against learning rate", 520)
    headline: list[str] = []
    for proto in protocols:
        mine = [g for g in groups if g["protocol"] == proto]
        if not mine:
            continue
        base = [g for g in mine if g["strategy"] == "erm" and not g["label"]]
        lazy = ""
        if base:
            ev, hh = statistics.fmean(base[0]["values"]["val"]), statistics.fmean(base[0]["values"]["test_hard"])
            verdict = "lazy" if ev > LAZY_EASY and hh < LAZY_HARD else "**not lazy**"
            lazy = f"baseline `erm` {100 * ev:.1f}% easy val / {100 * hh:.1f}% hard ({verdict}); "
        best = []
        for knows in KNOWLEDGE:
            cands = [g for g in mine if g["knows"] == knows and g["strategy"] != "erm"]
            if cands:
                top = max(cands, key=lambda g: statistics.fmean(g["values"]["test_hard"]))
                picks = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in top["picks"].items())
                best.append(f"knowing {knows}: `{top['strategy']}`{f' ({picks})' if picks else ''} "
                            f"{_cell(top['values']['test_hard'])}")
        headline.append(f"`{proto}`: {lazy}best hard test " + ("; ".join(best) if best else "(no method)"))
        w.p("**Best method per knowledge class and protocol** (highest hard-test mean: a pick made on test_hard, "
        f"for reading the table only; nothing was selected on it; *lazy*: easy val > {100 * LAZY_EASY:.0f}%, hard < "
        f"{100 * LAZY_HARD:.0f}%):")
    w.p()
    for line in headline:
        w.p(f"- {line}")
    w.p()
    return headline


def suite_headlines(runs_dir: Path, out_dir: Path) -> list[tuple[str, list[str]]]:
    """(sweep name, headline lines) of every suite under runs/sweeps/, for the report's summary; a figure the suite
    section draws goes under the report's folder ``out_dir``, as everything the report writes."""
    root = runs_dir / "sweeps"
    out = []
    for src in sorted(root.glob("*/results.json")) if root.is_dir() else []:
        data = _load(src)
        if data and is_suite(data):
            out.append((data["sweep"], suite_section(Writer(runs_dir, out_dir), data, src)))
    return out
