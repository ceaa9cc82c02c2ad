"""The report's own matplotlib figures (the per-run figures are drawn by the analyses and only linked):
the strategy bars, the attack's success-vs-eps sweep, and the same per source -> target pair."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional


def _strategy_figure(rows: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib.pyplot as plt

    from ...figures import save

    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(rows) + 1), 3.2))
    xs = range(len(rows))
    for off, key, label in ((-0.2, "easy", "easy test"), (0.2, "hard", "hard test")):
        ax.bar([x + off for x in xs], [100 * r[key][0] for r in rows], width=0.4, label=label,
               yerr=[100 * (r[key][1] or 0) for r in rows], capsize=3)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([r["strategy"] + (" (oracle)" if r["role"] == "oracle" else "") for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    return save(fig, path)


def _sweep_figure(sweeps: dict[str, Any], path: Path) -> Path:
    import matplotlib.pyplot as plt

    from ...figures import save

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for name, sw in sweeps.items():
        for method, rates in sw["success"].items():
            ax.plot(sw["eps"], [100 * v for v in rates], marker="o", ls="-" if method == "pgd" else "--", label=f"{name} {method}")
    ax.set_xlabel("eps (L-inf)")
    ax.set_ylabel("targeted success (%)")
    ax.legend(fontsize=7)
    return save(fig, path)


def _pair_sweep_figure(stored: dict[str, Any], path: Path) -> Optional[Path]:
    import matplotlib.pyplot as plt

    from ...figures import save

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
