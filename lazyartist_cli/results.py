"""The result documents: what each pipeline step returns and stores as JSON, as typed dicts.

These are the contract between the pipeline (which writes them), the CLI (which
prints them), the report and the scripts (which read them). Top-level keys are
typed; nested tables stay ``dict[str, Any]`` and are described where they are
built. Every stored document also starts with ``schema_version`` (``runs.py``).
``RESULTS`` maps each stored file to its type; ``result_problems`` says how a
document departs from its type (a test runs it on the real pipeline's output).
"""

from typing import Any, NotRequired, Optional, TypedDict, get_type_hints


class EvalMetrics(TypedDict):
    """``<run>/eval/metrics.json`` (``lazy eval``)."""

    run: str
    dataset: str
    checkpoint_epoch: int
    train: float
    val: float
    test_easy: float
    test_hard: float
    per_class: dict[str, Any]
    confusion: dict[str, Any]
    class_drop_easy_to_hard: dict[str, Any]
    color_reliance: Optional[dict[str, Any]]  # None for a model that cannot see colour (the oracle), or no colour shortcut
    failures: list[Any]
    paths: dict[str, Any]
    # aligned, bias_conflicting, unbiased, worst_group, groups_scored (metrics.shortcut_metrics; results before it: absent)
    groups: NotRequired[dict[str, Any]]
    # the final epoch's model (last.pt) on the test splits: checkpoint_epoch, test_easy, test_hard, groups (absent for
    # a refitting strategy, and in results before it)
    last: NotRequired[dict[str, Any]]


class CounterfactualSummary(TypedDict):
    """``<run>/counterfactual/summary.json`` (``lazy counterfactual``)."""

    run: str
    n_images: int
    method: NotRequired[str]  # recolour (every other palette colour) | twin (the test_hard twin; results before it: recolour)
    n_recolored: int
    follows_new_color: float
    keeps_true_label: float
    other: float
    mean_confidence: float
    per_color: dict[str, Any]
    paths: dict[str, Any]


class AttackSummary(TypedDict):
    """``<run>/attack/summary.json`` (``lazy attack``; a pairs-only pass has no headline-pair keys)."""

    run: str
    split: str
    eps: float
    methods: dict[str, Any]
    sweep: Optional[dict[str, Any]]  # None in a pairs-only pass
    paths: dict[str, Any]
    source_class: NotRequired[int]
    target_class: NotRequired[int]
    clean_source_accuracy: NotRequired[float]
    clean_target_rate: NotRequired[float]
    pairs: NotRequired[dict[str, Any]]
    precision: NotRequired[str]  # PGD's gradient steps, as resolved on the device (results before it: fp32)


class GradcamSummary(TypedDict):
    """``<run>/gradcam/<method>/summary.json`` (``lazy gradcam``)."""

    run: str
    method: str
    layer: str
    scores: dict[str, Any]
    hard_accuracy_on_scored: float
    study: list[Any]
    paths: dict[str, Any]


class ColorShare(TypedDict):
    """``<run>/gradcam/color_share.json`` (``lazy gradcam``: attributions split into brightness and colour)."""

    run: str
    split: str
    n: int
    explained: str
    methods: dict[str, Any]
    isotropic_share: float
    bootstrap: dict[str, Any]
    figure: str


class ProbeUnits(TypedDict):
    """``<run>/probe/units.json`` (``lazy probe``)."""

    run: str
    layers: list[Any]
    units: list[Any]
    label_shares: dict[str, Any]
    thresholds: dict[str, Any]
    paths: dict[str, Any]


class SaeSummary(TypedDict):
    """``<run>/sae/summary.json`` (``lazy sae``)."""

    run: str
    layer: str
    d: int
    latents: int
    kind: str
    k: int
    metrics: dict[str, Any]
    targets: dict[str, Any]
    sweep: list[Any]
    chosen: dict[str, Any]
    live_features: int
    labelling: dict[str, Any]
    features: list[Any]
    label_shares: dict[str, Any]
    thresholds: dict[str, Any]
    interventions: list[Any]
    intervention_contrast: dict[str, Any]
    group_ablation: dict[str, Any]
    paths: dict[str, Any]


# stored file (relative to the run directory) -> its type
RESULTS: dict[str, type] = {
    "eval/metrics.json": EvalMetrics,
    "counterfactual/summary.json": CounterfactualSummary,
    "attack/summary.json": AttackSummary,
    "gradcam/color_share.json": ColorShare,
    "probe/units.json": ProbeUnits,
    "sae/summary.json": SaeSummary,
}


def result_problems(kind: type, doc: dict[str, Any]) -> list[str]:
    """How ``doc`` departs from the typed dict ``kind``: missing required keys, unknown keys, and
    top-level values of the wrong Python type (``schema_version`` is allowed everywhere)."""
    hints = get_type_hints(kind)
    required, optional = kind.__required_keys__, kind.__optional_keys__
    problems = [f"missing key {k!r}" for k in sorted(required - set(doc))]
    problems += [f"unknown key {k!r}" for k in sorted(set(doc) - required - optional - {"schema_version"})]
    for key, value in doc.items():
        if key not in hints:
            continue
        hint = hints[key]
        origin = getattr(hint, "__origin__", hint)
        if origin is NotRequired:
            hint = hint.__args__[0]
            origin = getattr(hint, "__origin__", hint)
        expected = {float: (int, float)}.get(origin, origin)
        if isinstance(expected, type | tuple) and not isinstance(value, expected):
            problems.append(f"{key!r} is {type(value).__name__}, not {getattr(origin, '__name__', origin)}")
    return problems
