"""The study's plan: which runs it trains, under which names and configs, and which
analyses it runs on which of them (read by study and report)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import RunConfig, validate_config
from .analyses import ANALYSES, Analysis, get_analysis

STUDY_FILE = "study.json"  # under the report dir: what the last study did, step by step


@dataclass(frozen=True)
class RunSpec:
    name: str
    strategy: str
    seed: int
    input: str  # rgb | colorblind (the oracle)
    role: str  # baseline | robust | oracle


def study_runs(cfg: RunConfig) -> list[RunSpec]:
    """Every run the study trains, in order: per seed, baseline, strategies, oracle."""
    s = cfg.study
    out = []
    for i in range(s.seeds):
        seed = cfg.seed + i
        out.append(RunSpec(f"{s.model}-{s.baseline}-s{seed}", s.baseline, seed, "rgb", "baseline"))
        for strat in s.strategies:
            out.append(RunSpec(f"{s.model}-{strat}-s{seed}", strat, seed, "rgb", "robust"))
        if s.oracle and oracle_applies(cfg):
            out.append(RunSpec(f"{s.model}-{s.baseline}-oracle-s{seed}", s.baseline, seed, "colorblind", "oracle"))
    return out


def oracle_applies(cfg: RunConfig) -> bool:
    """The colour-blind oracle exists only where the shortcut is colour (its view recolours every image)."""
    from ..data.views import ORACLE_COLOR

    return cfg.data.protocol in ORACLE_COLOR


def applicable(cfg: RunConfig, analysis: Analysis) -> bool:
    """Whether an analysis means anything on the study's protocol (a colour-only one needs a colour shortcut)."""
    from ..data.protocols import get_protocol

    return not analysis.colour_only or get_protocol(cfg.data.protocol).kind == "colour"


def analysed(cfg: RunConfig, spec: RunSpec) -> bool:
    """Whether the per-model analyses look at this run's strategy (``study.analysed``; empty: every one)."""
    return spec.role != "oracle" and (not cfg.study.analysed or spec.strategy in cfg.study.analysed)


def analysed_runs(cfg: RunConfig) -> list[RunSpec]:
    """The runs the per-model analyses look at: the first seed of the baseline and of each strategy
    (of those ``study.analysed`` names, when it names some)."""
    return [r for r in study_runs(cfg) if r.seed == cfg.seed and analysed(cfg, r)]


_REPLACED_BY_STUDY = {"model": "study.model", "strategy": "study.baseline and study.strategies",
                      "input": "the study (rgb, and colorblind for the oracle)", "name": "the study (<model>-<strategy>-s<seed>)"}


def check_study_options(cfg: RunConfig) -> None:
    """A ``[train]`` option the study replaces for every run it trains is an error, not silently ignored
    (a value equal to its default is accepted: replacing it changes nothing)."""
    from ..errors import ConfigError

    fields = type(cfg.train).model_fields
    problems = [f"train.{key} = {getattr(cfg.train, key)!r} is not used by lazy study: {by} sets it for every run"
                for key, by in _REPLACED_BY_STUDY.items() if getattr(cfg.train, key) != fields[key].get_default(call_default_factory=True)]
    if problems:
        raise ConfigError(problems)


def run_config(cfg: RunConfig, spec: RunSpec) -> RunConfig:
    """The config ``lazy train`` gets for one run of the study (the dataset keeps the study's seed)."""
    tree = cfg.model_dump(mode="json")
    tree["seed"] = spec.seed
    tree["data"]["seed"] = cfg.data_seed()
    tree["train"].update(model=cfg.study.model, strategy=spec.strategy, input=spec.input, name=spec.name)
    return validate_config(tree)


def train_command(spec: RunSpec, cfg: RunConfig) -> str:
    inp = f" --input {spec.input}" if spec.input != "rgb" else ""
    return f"lazy train --model {cfg.study.model} --strategy {spec.strategy} --seed {spec.seed} --name {spec.name}{inp}"


@dataclass(frozen=True)
class AnalysisStep:
    """One analysis of the study over some runs, with the config section it runs with."""

    analysis: Analysis
    runs: tuple[str, ...]
    options: Any  # the analysis's config section (a pydantic model)


def analysis_plan(cfg: RunConfig) -> list[AnalysisStep]:
    """The study's analyses in registry order: those that always run and those ``study.analyses``
    lists, each over its scope's runs; then the attack's pairs on the later seeds (a verdict over seeds)."""
    specs = study_runs(cfg)
    runs = {"every": tuple(s.name for s in specs), "first": tuple(s.name for s in analysed_runs(cfg))}
    wanted = set(cfg.study.analyses)
    plan = [AnalysisStep(a, runs[a.scope], getattr(cfg, a.section)) for a in ANALYSES.values()
            if (a.always or a.name in wanted) and applicable(cfg, a)]
    later = tuple(s.name for s in specs if analysed(cfg, s) and s.name not in runs["first"])
    if "attack" in wanted and cfg.study.attack_every_seed and later:
        plan.append(AnalysisStep(get_analysis("attack"), later, cfg.attack.model_copy(update={"pairs_only": True})))
    return plan
