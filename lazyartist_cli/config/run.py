"""``[study]``, ``[report]`` and the whole run file (``RunConfig``)."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, ValidationInfo, field_validator

from ..pipeline.analyses import STUDY_ANALYSES
from .analyses import AttackConfig, CounterfactualConfig, EvalConfig, GradcamConfig, ProbeConfig, SAEConfig
from .base import Section
from .training import DataConfig, TrainConfig


class StudyConfig(Section):
    """``[study]``: what ``lazy study`` runs and ``lazy report`` writes up."""

    model: str = "lazy-cnn"
    baseline: str = Field("erm", description="the strategy that learns the shortcut")
    strategies: list[str] = Field(default_factory=lambda: ["consistency", "spectral-decoupling", "group-dro"],
                                  description="robust strategies compared")
    seeds: int = Field(1, ge=1, le=10, description="seeds seed, seed+1, ... per strategy")
    oracle: bool = Field(True, description="also train the baseline on colour-blind copies (the colour-blind reference)")
    analyses: list[str] = Field(default_factory=lambda: list(STUDY_ANALYSES),
                                description="analyses besides eval (which always runs), each on its runs (pipeline/analyses.py)")
    analysed: list[str] = Field(default_factory=list, description="strategies whose runs get the per-model analyses "
                                "(gradcam, probe, attack, sae: the 'first' scope); [] : the baseline and every strategy")
    attack_every_seed: bool = Field(True, description="also attack the later seeds' runs (the pairs only), for the verdict over seeds")
    workers: int = Field(0, ge=0, le=64, description="processes running independent steps at once (the trainings, then "
                         "each run's analyses), each with cores / workers threads; 0: auto (one per core on a CPU, "
                         "at most 4; 1 on a GPU)")

    @field_validator("model")
    @classmethod
    def _known_model(cls, v: str) -> str:
        return TrainConfig._known_model(v)

    @field_validator("baseline")
    @classmethod
    def _known_baseline(cls, v: str) -> str:
        return TrainConfig._known_strategy(v)

    @field_validator("strategies")
    @classmethod
    def _known_strategies(cls, v: list[str]) -> list[str]:
        for name in v:
            TrainConfig._known_strategy(name)
        if len(set(v)) != len(v):
            raise ValueError("strategies are listed twice")
        return v

    @field_validator("analysed")
    @classmethod
    def _analysed_in_study(cls, v: list[str], info: ValidationInfo) -> list[str]:
        if not v:
            return v
        baseline, strategies = info.data.get("baseline"), info.data.get("strategies")
        if baseline is None or strategies is None:  # already reported as invalid
            return v
        studied = [baseline, *strategies]
        for name in v:
            if name not in studied:
                raise ValueError(f"{name!r} is not in the study (baseline and strategies: {', '.join(studied)})")
        if baseline not in v:
            raise ValueError(f"must include the baseline {baseline!r} (every analysis compares against it)")
        twice = sorted({name for name in v if v.count(name) > 1})
        if twice:
            raise ValueError(f"{twice[0]!r} is listed twice")
        return v

    @field_validator("analyses")
    @classmethod
    def _known_analyses(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if a not in STUDY_ANALYSES]
        if bad:
            raise ValueError(f"unknown analysis {bad[0]!r}; valid: {', '.join(STUDY_ANALYSES)}")
        return v


class ReportConfig(Section):
    """``[report]``: ``lazy report``."""

    dir: str = Field("report", description="under the runs directory")
    title: str = "Shortcut learning on Colored-MNIST"

    @field_validator("dir")
    @classmethod
    def _plain_dir(cls, v: str) -> str:
        from ..errors import UsageError
        from ..runs import RESERVED_NAMES, check_name

        if v in RESERVED_NAMES - {"report"}:
            raise ValueError(f"report dir {v!r} is used by the runs/ layout; choose another")
        try:
            check_name(v if v != "report" else "report-dir", "report dir")
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        return v


class RunConfig(Section):
    """The whole run file."""

    seed: int = Field(0, ge=0, le=2**32 - 1, description="a 32-bit seed (the range NumPy takes; offsets per run stay inside int64)")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    strategy: dict[str, dict[str, Any]] = Field(default_factory=dict, description="[strategy.<name>] options")
    eval: EvalConfig = Field(default_factory=EvalConfig)
    counterfactual: CounterfactualConfig = Field(default_factory=CounterfactualConfig)
    gradcam: GradcamConfig = Field(default_factory=GradcamConfig)
    probe: ProbeConfig = Field(default_factory=ProbeConfig)
    attack: AttackConfig = Field(default_factory=AttackConfig)
    sae: SAEConfig = Field(default_factory=SAEConfig)
    study: StudyConfig = Field(default_factory=StudyConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)

    def data_seed(self) -> int:
        return self.seed if self.data.seed is None else self.data.seed

    def strategy_config(self, name: Optional[str] = None) -> Any:
        """The validated options of a strategy (defaults where the file says nothing)."""
        from ..strategies import get_strategy

        name = name or self.train.strategy
        return get_strategy(name).Config.model_validate(self.strategy.get(name, {}))

    def dataset_name(self) -> str:
        return self.train.dataset or self.data.name

    def run_name(self) -> str:
        suffix = {"grayscale": "-gray", "colorblind": "-oracle"}.get(self.train.input, "")
        return self.train.name or f"{self.train.model}-{self.train.strategy}{suffix}-s{self.seed}"
