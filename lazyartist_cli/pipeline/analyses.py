"""The analyses: one registry read by the config (``study.analyses``), the study's plan,
the report and ``lazy runs``.

An analysis looks at a trained run and changes nothing about its training: its
config section is left out of the config stored with a run (that keeps only
``train.TRAINING_SECTIONS``). Each entry says

- ``section``: the ``RunConfig`` attribute (the run file's TOML section) it reads;
- ``artifact``: the path, relative to the run directory, whose presence says it ran;
- ``scope``: which runs of the study it looks at, ``"every"`` run or the ``"first"``
  seed of the baseline and of each strategy (``plan.analysed_runs``);
- ``runner``: a zero-argument loader returning its pipeline function
  ``run_x(cfg, runs_dir, runs, reporter=...)`` (imported when called: the pipeline
  modules import the config, which imports this registry);
- ``always``: run by every study whatever ``study.analyses`` lists (eval, which the
  report's tables need);
- ``colour_only``: built on recolouring images, so a study of a protocol whose shortcut
  is not colour (``data.protocol`` decoy or texture) leaves it out as not applicable.

Adding an analysis means adding one entry to ``ANALYSES`` (and its config section
to ``RunConfig``); the study, the report's "what was done" list and ``lazy runs`` pick
it up.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any, Callable, Literal

from ..errors import UsageError


@dataclass(frozen=True)
class Analysis:
    name: str  # the subcommand and the study step (its marker is <run>/.study/<name>.json)
    section: str
    artifact: str
    scope: Literal["every", "first"]
    runner: Callable[[], Callable[..., Any]]
    always: bool = False
    colour_only: bool = False  # built on recolouring: not applicable where the shortcut is not colour (decoy, texture)


def _lazy(module: str, function: str) -> Callable[[], Callable[..., Any]]:
    """A loader of ``pipeline.<module>.<function>``, imported when called (a test loads every one)."""

    def load() -> Callable[..., Any]:
        return getattr(import_module(f"{__package__}.{module}"), function)

    return load


ANALYSES: dict[str, Analysis] = {}  # in the order the study runs them


def register(analysis: Analysis) -> Analysis:
    if analysis.name in ANALYSES:
        raise ValueError(f"analysis {analysis.name!r} is registered twice")
    ANALYSES[analysis.name] = analysis
    return analysis


def get_analysis(name: str) -> Analysis:
    if name not in ANALYSES:
        raise UsageError(f"unknown analysis {name!r}; valid: {', '.join(ANALYSES)}")
    return ANALYSES[name]


for _analysis in (
    Analysis("eval", "eval", "eval/metrics.json", "every", _lazy("evaluate", "run_eval"), always=True),
    Analysis("counterfactual", "counterfactual", "counterfactual/summary.json", "every", _lazy("evaluate", "run_counterfactual")),
    Analysis("gradcam", "gradcam", "gradcam", "first", _lazy("gradcam", "run_gradcam")),
    Analysis("probe", "probe", "probe/units.json", "first", _lazy("probe", "run_probe"), colour_only=True),
    Analysis("attack", "attack", "attack/summary.json", "first", _lazy("attack", "run_attack")),
    Analysis("sae", "sae", "sae/summary.json", "first", _lazy("sae", "run_sae"), colour_only=True),
):
    register(_analysis)

# what ``study.analyses`` may list (and lists by default); the others always run
STUDY_ANALYSES = tuple(a.name for a in ANALYSES.values() if not a.always)
