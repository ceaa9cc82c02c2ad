"""Pydantic models of the TOML run file.

One model per section, ``extra="forbid"`` everywhere, so unknown keys and
bad values are rejected with the dotted path of the field. Precedence:
built-in defaults < run file < command-line options (applied as dotted
overrides before validation).

Modules: ``base`` (Section, shared defaults), ``training`` ([data], [train]),
``analyses`` (the analyses' sections), ``run`` ([study], [report], RunConfig),
``loading`` (TOML, --set, validation).
"""

from __future__ import annotations

from .analyses import AttackConfig, CounterfactualConfig, EvalConfig, GradcamConfig, ProbeConfig, SAEConfig
from .base import BATCH, ORACLE_LR, RGB, Section
from .loading import load_config, parse_set, read_toml, set_dotted, validate_config
from .run import STUDY_ANALYSES, ReportConfig, RunConfig, StudyConfig
from .training import DataConfig, TrainConfig

__all__ = [
    "AttackConfig", "BATCH", "CounterfactualConfig", "DataConfig", "EvalConfig", "GradcamConfig", "ORACLE_LR", "ProbeConfig",
    "RGB", "ReportConfig", "RunConfig", "SAEConfig", "STUDY_ANALYSES", "Section", "StudyConfig", "TrainConfig",
    "load_config", "parse_set", "read_toml", "set_dotted", "validate_config",
]
