"""The laziness map: a sweep with ``budgets`` (``experiments/laziness-map.toml``) read as hard accuracy against budget.

Each point is one long run at a constant learning rate, so its first B epochs are the run a budget of B epochs would
have trained (the same per-epoch shuffles). At budget B the baseline keeps the checkpoint its rule keeps among epochs
<= B (``budget_checkpoints``: the training loop's own comparison, the rule's score then easy val, the earlier epoch on
a tie), and the map reads that checkpoint's hard accuracy from the history (``hard_acc_monitor``: all of test_hard
when ``train.monitor_size = 0``; logged only, nothing is chosen on it). At each budget the rate is the one the rule
chooses (the highest mean rule score over seeds), as the baseline would tune it. A cell is *lazy* when easy val is
above 95% and hard accuracy below 20% (``suite.LAZY_EASY``, ``suite.LAZY_HARD``).

*Converged* (``converged_epoch``): the run has stopped fitting more of its bias-conflicting training images
(``train_conflicting_acc_monitor``, logged after every epoch; ERM's only signal against the colour is those images):
the first epoch B whose fitted share (mean of epochs B-4..B) is within ``CONVERGED_TOL`` of the most the run ever fits,
provided at least a quarter of the run follows B to show the plateau. The definition reads the training set's bias
labels (an experimenter's yardstick, never a method's choice) and no test data. The *region* is where the baseline
is lazy at the longest budget, at its rule's rate there, and converged by then at every seed.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any, Optional

from ..selection import SCORE_OF_RULE
from ..sweep_reference import point_label
from .suite import LAZY_EASY, LAZY_HARD
from .writer import Writer


def _history(run: Path) -> list[dict[str, Any]]:
    hist = run / "history.jsonl"
    rows = [json.loads(line) for line in hist.read_text().splitlines() if line.strip()] if hist.is_file() else []
    return sorted(rows, key=lambda r: r["epoch"])


def budget_checkpoints(history: list[dict[str, Any]], score_key: str) -> list[dict[str, Any]]:
    """For every budget B = 1..len(history): the epoch's row the rule keeps among epochs <= B, as the training loop
    keeps it (a higher (score, easy val) replaces the kept one; a tie keeps the earlier epoch)."""
    out: list[dict[str, Any]] = []
    best: Optional[dict[str, Any]] = None
    for row in history:
        if best is None or (row[score_key], row["val_acc"]) > (best[score_key], best["val_acc"]):
            best = row
        out.append(best)
    return out


CONVERGED_TOL = 0.01  # a point of the conflicting training images
CONVERGED_WINDOW = 5  # epochs averaged
CONVERGED_TAIL = 0.25  # the share of the run that must follow the converged epoch


def converged_epoch(history: list[dict[str, Any]]) -> Optional[int]:
    """The first epoch from which the run fits within ``CONVERGED_TOL`` of the most of its bias-conflicting training
    images it ever fits (5-epoch means), when at least ``CONVERGED_TAIL`` of the run follows it (None: still fitting
    more late in the run, or not logged)."""
    fit = [r.get("train_conflicting_acc_monitor") for r in history]
    if not fit or any(v is None for v in fit):
        return None
    smooth = [statistics.fmean(fit[max(0, i - CONVERGED_WINDOW + 1): i + 1]) for i in range(len(fit))]
    top = max(smooth)
    first = next(i for i, v in enumerate(smooth) if v >= top - CONVERGED_TOL)
    return history[first]["epoch"] if len(history) - (first + 1) >= CONVERGED_TAIL * len(history) else None


def _fmt(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{100 * statistics.fmean(values):.1f}" + (f" ± {100 * statistics.stdev(values):.1f}" if len(values) > 1 else "")


def map_points(data: dict[str, Any], runs_dir: Path) -> dict[tuple, dict[str, Any]]:
    """(protocol, correlation, lr) -> {"seeds": [...], "kept": [per seed: the rows kept at budgets 1..E]}, from each
    finished point's history."""
    out: dict[tuple, dict[str, Any]] = defaultdict(lambda: {"seeds": [], "kept": []})
    for p in data["points"]:
        if p.get("status") in ("failed", "pending") or not p.get("select"):
            continue
        hist = _history(runs_dir / p["run"])
        key = SCORE_OF_RULE.get(p["select"])
        if not hist or key is None or any(key not in r or "hard_acc_monitor" not in r for r in hist):
            continue
        cell = out[(p.get("protocol"), p.get("axis:data.correlation"), p.get("lr"))]
        cell["seeds"].append(p.get("axis:seed", 0))
        cell["kept"].append(budget_checkpoints(hist, key))
        cell["score_key"] = key
        cell["histories"] = cell.get("histories", []) + [hist]
    return dict(out)


def rule_rate(cells: dict[tuple, dict[str, Any]], protocol: str, corr: float, budget: int) -> Optional[float]:
    """The rate the baseline's rule chooses at ``budget``: the highest mean rule score over seeds of the checkpoints
    kept at that budget (a tie: the lower rate)."""
    best: Optional[tuple] = None
    for (proto, c, lr), cell in sorted(cells.items(), key=lambda kv: kv[0][2]):
        runs = [k for k in cell["kept"] if len(k) >= budget]
        if proto != protocol or c != corr or not runs:
            continue
        score = statistics.fmean(k[budget - 1][cell["score_key"]] for k in runs)
        if best is None or score > best[0]:
            best = (score, lr)
    return best[1] if best else None


def at_budget(cell: dict[str, Any], budget: int) -> tuple[list[float], list[float]]:
    """(easy val, hard accuracy) per seed of the checkpoints kept at ``budget``."""
    runs = [k[budget - 1] for k in cell["kept"] if len(k) >= budget]
    return [r["val_acc"] for r in runs], [r["hard_acc_monitor"] for r in runs]


def is_lazy(val: list[float], hard: list[float]) -> bool:
    return bool(val) and statistics.fmean(val) > LAZY_EASY and statistics.fmean(hard) < LAZY_HARD


def map_section(w: Writer, data: dict[str, Any], src: Path, figure: Optional[Path] = None) -> None:
    """The map's tables (and, with ``figure``, its figure): hard accuracy of the rule's checkpoint at each budget, at the
    rate the rule chooses there, per protocol and share; then both rates at the longest budget."""
    cells = map_points(data, w.runs_dir)
    budgets = [b for b in data.get("budgets") or []]
    if not cells or not budgets:
        w.p("*No point of the map has finished yet.*")
        w.p()
        return
    labels = data.get("labels") or {}
    share = lambda c: point_label({"data.correlation": c}, labels)  # noqa: E731
    protocols = list(dict.fromkeys(k[0] for k in cells))
    corrs = sorted({k[1] for k in cells})
    rates = sorted({k[2] for k in cells})
    rows = []
    for proto in protocols:
        for c in corrs:
            row = [proto, share(c)]
            for b in budgets:
                lr = rule_rate(cells, proto, c, b)
                cell = cells.get((proto, c, lr))
                if cell is None:
                    row.append("—")
                    continue
                val, hard = at_budget(cell, b)
                text = f"{_fmt(hard)} ({lr:g})"
                row.append(f"**{text}**" if is_lazy(val, hard) else text)
            for lr in rates:
                conv = [converged_epoch(h) for h in cells.get((proto, c, lr), {}).get("histories", [])]
                row.append(", ".join("—" if e is None else str(e) for e in conv) or "—")
            rows.append(row)
    w.p("Hard accuracy (%, mean ± sample std over seeds) of the checkpoint the baseline's rule (easy val) keeps at each "
        "budget, at the rate (in brackets) its rule chooses at that budget; **bold**: lazy (easy val above "
        f"{100 * LAZY_EASY:.0f}%, hard below {100 * LAZY_HARD:.0f}%). One run per point read at every budget "
        "(a constant rate: its first B epochs are a B-epoch run); the hard accuracy is the one logged after each epoch "
        "on all of test_hard, never used to choose.")
    w.p()
    w.table(["protocol", "share", *[f"{b} epochs" for b in budgets], *[f"converged (lr {lr:g})" for lr in rates]], rows)
    w.p(f"*Converged*: the epoch (per seed) from which the run fits within {100 * CONVERGED_TOL:g} point of the most of "
        "its bias-conflicting training images it ever fits (5-epoch means), with at least a quarter of the run after it "
        "(— : still fitting more late in the run).")
    w.p()
    w.p(region_sentence(cells, protocols, corrs, budgets[-1], share))
    w.p()
    from .grid import _wall

    epochs = sum(len(h) for cell in cells.values() for h in cell["histories"])
    seconds = sum(r.get("seconds", 0.0) for cell in cells.values() for h in cell["histories"] for r in h)
    w.p(f"Compute: {epochs:,} epochs of plain ERM (the map's own bare epochs), {seconds / 3600:.1f} h of training "
        f"({seconds / max(epochs, 1):.1f} s an epoch on average, with the sweep's workers sharing the machine)." + _wall(data))
    w.p()
    seeds = sorted({s for cell in cells.values() for s in cell["seeds"]})
    w.p(f"Seeds finished: {', '.join(str(s) for s in seeds)}; per point: "
        + ", ".join(f"{proto} {share(c)} lr {lr:g}: {len(cell['seeds'])}" for (proto, c, lr), cell in sorted(
            cells.items(), key=lambda kv: (protocols.index(kv[0][0]), kv[0][1], kv[0][2]))) + ".")
    w.p()
    if figure is not None:
        w.fig(map_figure(cells, protocols, corrs, share, figure), "the laziness map: hard accuracy against budget", 640)


def region_sentence(cells: dict[tuple, dict[str, Any]], protocols: list[str], corrs: list[float], budget: int,
                    share: Any) -> str:
    """Where the baseline is lazy at ``budget`` (the longest), at its rule's rate there, converged at every seed."""
    parts = []
    for proto in protocols:
        lazy, not_lazy, open_ = [], [], []
        for c in corrs:
            lr = rule_rate(cells, proto, c, budget)
            cell = cells.get((proto, c, lr))
            if cell is None:
                continue
            val, hard = at_budget(cell, budget)
            conv = [converged_epoch(h) for h in cell["histories"]]
            name = f"{share(c)} (lr {lr:g}, {_fmt(hard)}% hard, {len(hard)} seed{'s' if len(hard) > 1 else ''})"
            if any(e is None or e > budget for e in conv):
                open_.append(name)
            elif is_lazy(val, hard):
                lazy.append(name)
            else:
                not_lazy.append(name)
        parts.append(f"on `{proto}`, lazy at " + ("; ".join(lazy) or "no share")
                     + (", not lazy at " + "; ".join(not_lazy) if not_lazy else "")
                     + (", not converged within the run at " + "; ".join(open_) if open_ else ""))
    return (f"**The region** (at {budget} epochs, the rate its rule chooses there, converged by then): "
            + "; ".join(parts) + ".")


def map_figure(cells: dict[tuple, dict[str, Any]], protocols: list[str], corrs: list[float], share: Any,
               path: Path) -> Path:
    """One panel per protocol: hard accuracy of the rule's checkpoint (at the rule's rate at each budget) against the
    budget, one curve per share; the lazy bar dashed."""
    import matplotlib.pyplot as plt

    from ...figures import save

    fig, axes = plt.subplots(1, len(protocols), figsize=(4.2 * len(protocols), 3.3), squeeze=False, sharey=True)
    for ax, proto in zip(axes[0], protocols):
        for c in corrs:
            longest = max((len(k) for (p, cc, _), cell in cells.items() if p == proto and cc == c for k in cell["kept"]),
                          default=0)
            xs, ys = [], []
            for b in range(1, longest + 1):
                lr = rule_rate(cells, proto, c, b)
                cell = cells.get((proto, c, lr))
                if cell is None:
                    continue
                _, hard = at_budget(cell, b)
                xs.append(b)
                ys.append(100 * statistics.fmean(hard))
            if xs:
                ax.plot(xs, ys, label=share(c))
        ax.axhline(100 * LAZY_HARD, ls="--", c="gray", lw=0.8)
        ax.set_xscale("log")
        ticks = [t for t in (1, 3, 6, 12, 24, 48, 80, 160, 320) if t <= max(1, longest)]
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
        ax.set_xlabel("budget (epochs)")
        ax.set_title(proto, fontsize=9)
        ax.set_ylim(0, 100)
    axes[0][0].set_ylabel("hard accuracy of the rule's checkpoint (%)")
    axes[0][-1].legend(fontsize=7, title="conflicting", title_fontsize=7)
    return save(fig, path)


def figure_from_results(results: Path, sweep: str, out: Path) -> Optional[Path]:
    """The map's figure drawn from a results folder (``results/runs``: the sweep's results.json and each run's
    history), e.g. the README's ``docs/img/laziness-map.png``; None when the sweep has no finished point there."""
    from .loader import _load

    data = _load(results / "sweeps" / sweep / "results.json")
    if not data or not data.get("budgets"):
        return None
    cells = map_points(data, results)
    if not cells:
        return None
    labels = data.get("labels") or {}
    protocols = list(dict.fromkeys(k[0] for k in cells))
    return map_figure(cells, protocols, sorted({k[1] for k in cells}),
                      lambda c: point_label({"data.correlation": c}, labels), out)


def map_position(runs_dir: Path, protocol: str, corr: float, lr: float, epochs: int) -> Optional[str]:
    """Where a study's baseline setting sits on a laziness map stored under ``runs_dir`` (a sweep with ``budgets``): its
    hard accuracy there, the rate its rule would choose at that budget, and whether that rate has converged by then.
    None without a map point of the same protocol and share."""
    from .loader import _load

    for src in sorted((runs_dir / "sweeps").glob("*/results.json")) if (runs_dir / "sweeps").is_dir() else []:
        data = _load(src)
        if not data or not data.get("budgets"):
            continue
        cells = map_points(data, runs_dir)
        mine = cells.get((protocol, corr, lr))
        if mine is None or not any(len(k) >= epochs for k in mine["kept"]):
            continue
        val, hard = at_budget(mine, epochs)
        best = rule_rate(cells, protocol, corr, epochs)
        other = cells.get((protocol, corr, best))
        o_val, o_hard = at_budget(other, epochs) if other else (val, hard)
        conv = [converged_epoch(h) for h in (other or mine)["histories"]]
        done = all(e is not None and e <= epochs for e in conv)
        longest = max(len(h) for h in (other or mine)["histories"])
        lazy_there = is_lazy(o_val, o_hard)
        return (f"on the laziness map (`{data['file']}`, {len(hard)} seed{'s' if len(hard) > 1 else ''}) this setting "
                f"(`{protocol}`, {100 * (1 - corr):g}% conflicting, lr {lr:g}, {epochs} epochs) gives the baseline "
                f"{_fmt(hard)}% hard; its rule would choose lr {best:g} at this budget ({_fmt(o_hard)}% hard), where it "
                + (f"has converged (by epoch {max(conv)})" if done else
                   f"has not converged by this budget (the map's {longest}-epoch runs fit more of their conflicting "
                   "images later)")
                + (": lazy there" if lazy_there and done else
                   (": not lazy there" if not lazy_there else ": lazy so far, not yet converged")))
    return None
