"""Intervals and verdicts for the report: bootstrap and t intervals, and "separates from baseline" (two 95%
intervals that do not overlap), formatted as table cells."""

from __future__ import annotations

import math
import statistics
from typing import Any, Optional

from ...metrics import intervals_overlap

# RunFiles (loader.py) appears as Any in signatures: the sections import this module, never the other way


# Thresholds of the report's verdicts (fractions of 1).
GAIN = 0.10  # a strategy "mattered" when it beats the baseline on test_hard by at least this; below it, a negative result
LAZY_HARD = 0.20  # a model is lazy when its test_hard accuracy is below this (the PRD's bar for the baseline)
SHORTCUT_GAP = 0.50  # the baseline "learned the shortcut" when easy test exceeds hard test by more than this
ORACLE_TOLERANCE = 0.01  # the oracle is quoted as a colour-blind reference when its easy and hard accuracies agree within this
FLIP_SMALL = 0.05  # an SAE intervention that flips fewer predictions than this changes (almost) nothing


def _oracle_is_ceiling(row: dict[str, Any]) -> bool:
    """The oracle is quoted as a colour-blind reference only if it cannot tell colours apart: test_easy and test_hard
    share digits and backgrounds, so its two accuracies (a strategy-table row) must agree within ORACLE_TOLERANCE.
    (That shows it is colour-blind, not that it bounds what shape allows: it is a reference, not a ceiling.)"""
    return abs(row["easy"][0] - row["hard"][0]) <= ORACLE_TOLERANCE


def _pm(mean_std: tuple) -> str:
    """'95.4 ± 0.1%' from a (mean, sample std) pair of fractions; the mean alone when there is one seed (std None)."""
    m, sd = mean_std
    return f"{100 * m:.1f}" + (f" ± {100 * sd:.1f}" if sd is not None else "") + "%"


def _seeds(n: int) -> str:
    """'1 seed', '3 seeds'."""
    return f"{n} seed" + ("" if n == 1 else "s")


# two-sided 97.5% quantiles of Student's t for 1..9 degrees of freedom (a t-interval over 2..10 seeds)
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262)


def _hard_ci(row: dict[str, Any], evals: dict[str, Any], n_images: Optional[int]) -> Optional[tuple[float, float, float]]:
    """95% interval of a strategy row's hard-test accuracy: over seeds (t) when it has several, else over images."""
    return _row_ci([evals[n]["test_hard"] for n in row["runs"] if evals.get(n)], n_images)


def _row_ci(vals: list[float], n_images: Optional[int]) -> Optional[tuple[float, float, float]]:
    """95% interval of a proportion measured on several seeds (t over seeds) or on one run (bootstrap over its n images)."""
    if len(vals) >= 2:
        m, sd = statistics.fmean(vals), statistics.stdev(vals)
        half = T975[min(len(vals) - 2, len(T975) - 1)] * sd / math.sqrt(len(vals))
        return m, max(0.0, m - half), min(1.0, m + half)
    if len(vals) == 1 and n_images:
        k = round(vals[0] * n_images)
        return _bootstrap_list([1.0] * k + [0.0] * (n_images - k))
    return None


def _separates(base: Optional[tuple[float, float, float]], other: Optional[tuple[float, float, float]], is_base: bool,
               higher_is_better: Optional[bool] = None) -> str:
    """The verdict column: do the 95% intervals of this run and the baseline not overlap, and in which direction?
    'yes, better' / 'yes, worse' where the quantity has a better direction (``higher_is_better``), else
    'yes, higher' / 'yes, lower'; 'no' when they overlap."""
    if is_base:
        return "(baseline)"
    if base is None or other is None:
        return "—"
    if intervals_overlap(base, other):
        return "no"
    higher = other[0] > base[0]
    if higher_is_better is None:
        return "yes, higher" if higher else "yes, lower"
    return "yes, better" if higher == higher_is_better else "yes, worse"


def _share_cell(labels: list[str], which: str, base_labels: Optional[list[str]] = None, is_base: bool = False) -> str:
    """The share of ``labels`` equal to ``which`` with its bootstrap 95% CI (over the labelled items), and whether it
    separates from the baseline's share (given ``base_labels``)."""
    if not labels:
        return "—"
    ci = _bootstrap_list([1.0 if x == which else 0.0 for x in labels])
    base = _bootstrap_list([1.0 if x == which else 0.0 for x in base_labels]) if base_labels else None
    return f"{100 * ci[0]:.1f}% [{100 * ci[1]:.0f}, {100 * ci[2]:.0f}]" + _sep_suffix(base, ci, is_base)


def _proportion_cell(p: float, n: int, base: Optional[tuple[float, int]] = None, is_base: bool = False) -> str:
    """A proportion of n images with its bootstrap 95% CI (resampling the n indicators it summarises), and whether it
    separates from the baseline's (given as its proportion and count)."""
    def ci_of(q: float, m: int) -> tuple[float, float, float]:
        k = round(q * m)
        return _bootstrap_list([1.0] * k + [0.0] * (m - k))

    ci = ci_of(p, n)
    return f"{100 * p:.1f}% [{100 * ci[1]:.0f}, {100 * ci[2]:.0f}]" + _sep_suffix(ci_of(*base) if base else None, ci, is_base)


def _base_proportion(files: Any, key: str) -> Optional[tuple[float, int]]:
    sc = (files.get("gradcam") or {}).get("scores")
    return (sc["proportions"][key], sc["n"]) if sc else None


def _sep_suffix(base: Optional[tuple[float, float, float]], ci: tuple[float, float, float], is_base: bool) -> str:
    sep = _separates(base, ci, is_base)
    return "" if sep in ("(baseline)", "—") else f", sep.: {sep}"


def _bootstrap_list(values: list[float]) -> tuple[float, float, float]:
    import torch

    from ...metrics import bootstrap_ci

    return bootstrap_ci(torch.tensor(values, dtype=torch.float64))


def _ci_cell(v: dict[str, Any], scale: float = 100, digits: int = 1, unit: str = "%") -> str:
    return f"{scale * v['mean']:.{digits}f}{unit} [{scale * v['ci95'][0]:.{digits}f}, {scale * v['ci95'][1]:.{digits}f}]"
