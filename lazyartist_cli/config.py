"""Pydantic models of the TOML run file.

One model per section, ``extra="forbid"`` everywhere, so unknown keys and
bad values are rejected with the dotted path of the field. Precedence:
built-in defaults < run file < command-line options (applied as dotted
overrides before validation).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from .data.palette import DEFAULT_PALETTE, NAMED_COLORS
from .errors import ConfigError, UsageError
from .pipeline.analyses import STUDY_ANALYSES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


RGB = tuple[int, int, int]

# The colour-blind oracle's learning rate: of {1e-3, 3e-3}, the one with the higher easy-val accuracy
# (seed 0: 94.9% and 96.9%); a ceiling is trained at its best, or a strategy can pass it.
ORACLE_LR = 3e-3

# Images per batch, training and inference alike (the default of every batch_size option): on a 2-core
# CPU a 128-image batch of lazy-cnn keeps its activations in cache (models.INFERENCE_BATCH is the same
# number for the method packages, which do not import this module; a test checks that they agree).
BATCH = 128


class DataConfig(Section):
    """``[data]``: how the Colored-MNIST dataset is built."""

    name: str = "colored-mnist"
    base: Literal["mnist", "fashion-mnist"] = "mnist"
    mnist_dir: Optional[Path] = None
    download: bool = True
    protocol: Literal["foreground", "background"] = "foreground"
    correlation: float = Field(0.95, ge=0.0, le=1.0)
    n_train: int = Field(50_000, ge=10)
    n_val: int = Field(10_000, ge=10)
    n_test: int = Field(10_000, ge=10, le=10_000)
    seed: Optional[int] = Field(None, ge=0, description="defaults to the global seed")
    palette: list[str] = Field(default_factory=lambda: list(DEFAULT_PALETTE))
    colors: dict[str, RGB] = Field(default_factory=dict, description="extra or overridden colour names -> RGB")
    stripe_prob: float = Field(0.3, ge=0.0, le=1.0)

    @field_validator("colors")
    @classmethod
    def _rgb_range(cls, v: dict[str, RGB]) -> dict[str, RGB]:
        for name, rgb in v.items():
            if any(c < 0 or c > 255 for c in rgb):
                raise ValueError(f"colour {name!r} must have RGB values in 0..255, got {list(rgb)}")
        return v

    @model_validator(mode="after")
    def _palette_ok(self) -> "DataConfig":
        if len(self.palette) != 10:
            raise ValueError(f"palette must name 10 colours (one per class), got {len(self.palette)}")
        known = {**NAMED_COLORS, **self.colors}
        unknown = [c for c in self.palette if c not in known]
        if unknown:
            raise ValueError(f"palette: unknown colour name(s) {unknown}; known: {', '.join(sorted(known))}")
        dup_names = sorted({c for c in self.palette if self.palette.count(c) > 1})
        if dup_names:
            raise ValueError(f"palette: duplicate colour(s) {dup_names}")
        rgbs = [tuple(known[c]) for c in self.palette]
        dup_rgb = sorted({self.palette[i] for i, r in enumerate(rgbs) if rgbs.count(r) > 1})
        if dup_rgb:
            raise ValueError(f"palette: colours {dup_rgb} have the same RGB value")
        if self.n_train + self.n_val > 60_000:  # MNIST and Fashion-MNIST both have 60,000 training images
            raise ValueError(f"n_train + n_val = {self.n_train + self.n_val} is larger than the 60,000 {self.base} training images")
        return self

    def palette_rgb(self) -> list[RGB]:
        known = {**NAMED_COLORS, **self.colors}
        return [tuple(known[c]) for c in self.palette]

    def build_fingerprint(self, seed: int) -> dict[str, Any]:
        """What determines the bytes of the dataset (used to detect a changed config)."""
        return {
            "base": self.base,
            "protocol": self.protocol,
            "correlation": self.correlation,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "n_test": self.n_test,
            "seed": seed,
            "palette": self.palette,
            "palette_rgb": [list(c) for c in self.palette_rgb()],
            "stripe_prob": self.stripe_prob,
        }


class TrainConfig(Section):
    """``[train]``: one training run (``lazy train``)."""

    name: Optional[str] = Field(None, description="run name; default <model>-<strategy>-s<seed>")
    dataset: Optional[str] = Field(None, description="dataset name; default data.name")
    model: str = "lazy-cnn"
    model_options: dict[str, Any] = Field(default_factory=dict, description="the model's knobs, e.g. {grid = 3}")
    strategy: str = "erm"
    input: Literal["rgb", "colorblind", "grayscale"] = Field(
        "rgb", description="colorblind: the oracle, every stroke recoloured to one fixed colour (never a robust "
        "method); grayscale: the legacy luminance oracle, not colour-blind"
    )
    epochs: int = Field(12, ge=1, le=10_000)
    batch_size: int = Field(BATCH, ge=1, le=65_536)
    lr: Optional[float] = Field(None, gt=0, le=10, description="Adam's learning rate; default: the strategy's own "
                                "(Strategy.default_lr), and ORACLE_LR for the colour-blind oracle")
    schedule: Literal["constant", "cosine"] = Field("constant", description="learning rate over the run")
    weight_decay: float = Field(0.0, ge=0)
    select: Literal["auto", "val", "val-recolored"] = Field(
        "auto", description="checkpoint rule (never hard data): val accuracy, or accuracy on validation images "
        "recoloured by colour transforms; auto: val for strategies that know nothing about the bias")
    eval_batch_size: int = Field(BATCH, ge=1, description="images per forward pass when scoring after each epoch")
    train_eval_size: int = Field(10_000, ge=0, description="train images re-scored after each epoch")
    monitor_hard: bool = True

    @field_validator("model")
    @classmethod
    def _known_model(cls, v: str) -> str:
        from .models import MODELS

        if v not in MODELS:
            raise ValueError(f"unknown model {v!r}; valid: {', '.join(sorted(MODELS))}")
        return v

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, v: str) -> str:
        from .strategies import STRATEGIES

        if v not in STRATEGIES:
            raise ValueError(f"unknown strategy {v!r}; valid: {', '.join(sorted(STRATEGIES))}")
        return v

    @model_validator(mode="after")
    def _model_options_ok(self) -> "TrainConfig":
        from .models import resolve_options

        try:
            resolve_options(self.model, self.model_options)
        except UsageError as exc:
            raise ValueError(str(exc).removeprefix("train.")) from None
        return self

    def learning_rate(self) -> float:
        """The learning rate in force: ``lr`` when given, else the oracle's (a ceiling is trained at its best
        learning rate) or the strategy's own default."""
        from .strategies import get_strategy

        if self.lr is not None:
            return self.lr
        if self.input != "rgb":
            return ORACLE_LR
        return get_strategy(self.strategy).default_lr

    def selection_rule(self) -> str:
        """The checkpoint rule in force (``auto`` resolved by the strategy's knowledge)."""
        from .strategies import get_strategy

        return get_strategy(self.strategy).default_selection() if self.select == "auto" else self.select


class EvalConfig(Section):
    """``[eval]``: ``lazy eval``."""

    n_failures: int = Field(16, ge=1, le=256)
    batch_size: int = Field(BATCH, ge=1)


class CounterfactualConfig(Section):
    """``[counterfactual]``: ``lazy counterfactual``."""

    n_images: int = Field(500, ge=1, le=10_000, description="correctly classified test_easy images recoloured")
    n_figures: int = Field(4, ge=1, le=50)


class GradcamConfig(Section):
    """``[gradcam]``: ``lazy gradcam`` (attribution maps)."""

    method: Literal["gradcam", "saliency", "smoothgrad", "ig"] = "gradcam"
    layer: Optional[str] = Field(None, description="module name; default: the rectified output of the last Conv2d")
    target_class: Optional[int] = Field(None, ge=0, le=9, description="default: the predicted class")
    n_images: int = Field(32, ge=1, le=1024, description="test_hard images drawn as overlays")
    n_scores: int = Field(1000, ge=1, le=10_000, description="test_hard images scored for stroke mass")
    n_panels: int = Field(4, ge=0, le=64, description="three-panel figures per run")
    batch_size: int = Field(BATCH, ge=1)
    ig_steps: int = Field(32, ge=2, le=512)
    smoothgrad_samples: int = Field(25, ge=1, le=256)
    smoothgrad_sigma: float = Field(0.15, gt=0, le=1)
    color_share_images: int = Field(256, ge=0, le=10_000,
                                    description="test_hard images whose attributions are split into brightness and colour; 0: skip")
    color_methods: list[Literal["saliency", "smoothgrad", "ig", "gradcam-x-gradient"]] = Field(
        default_factory=lambda: ["saliency", "smoothgrad", "ig", "gradcam-x-gradient"], min_length=1,
        description="attributions split into brightness and colour")


class ProbeConfig(Section):
    """``[probe]``: ``lazy probe`` (activation maximisation and selectivity)."""

    layers: Optional[list[str]] = Field(None, description="default: an early, a middle and a late layer")
    channels: Optional[list[int]] = Field(None, description="unit indices per layer; default: the first n_units")
    n_units: int = Field(8, ge=1, le=512)
    objective: Literal["auto", "channel", "neuron"] = Field(
        "auto", description="auto: one neuron (centre position) of a conv map, the unit of a linear layer")
    steps: int = Field(256, ge=1, le=20_000)
    restarts: int = Field(3, ge=1, le=16, description="random starts per unit; the best is kept")
    scale: float = Field(0.1, ge=0, lt=0.5, description="transformation robustness: random rescaling by up to this fraction")
    rotate: float = Field(5.0, ge=0, le=45, description="transformation robustness: random rotation of up to this many degrees")
    lr: float = Field(0.05, gt=0)
    param: Literal["pixel", "fft"] = "fft"
    l2: float = Field(1e-3, ge=0)
    tv: float = Field(1e-2, ge=0)
    jitter: int = Field(2, ge=0, le=8)
    blur_every: int = Field(0, ge=0, description="Gaussian blur every N steps (0: off)")
    top_k: int = Field(8, ge=1, le=64, description="top-activating dataset images per unit")
    selectivity_digits: int = Field(10, ge=1, le=100, description="digits per class used for selectivity")


class AttackConfig(Section):
    """``[attack]``: ``lazy attack`` (targeted L-inf attacks)."""

    source_class: int = Field(7, ge=0, le=9)
    target_class: int = Field(3, ge=0, le=9)
    eps: float = Field(0.05, gt=0, le=1)
    step: float = Field(0.01, gt=0, le=1)
    steps: int = Field(100, ge=1, le=10_000)
    random_start: bool = False
    confidence: float = Field(0.9, gt=0, le=1)
    split: Literal["test_easy", "test_hard", "val"] = "test_easy"
    n_images: Optional[int] = Field(None, ge=10, description="source images attacked; default: all of the source class")
    sweep: list[float] = Field(default_factory=lambda: [0.01, 0.02, 0.03, 0.05, 0.07, 0.1])
    sweep_steps: int = Field(40, ge=1, le=10_000, description="PGD steps per sweep point (the headline uses steps)")
    sweep_images: Optional[int] = Field(256, ge=10, description="source images in the eps sweep (the first ones); none: all")
    n_figures: int = Field(4, ge=0, le=32)
    batch_size: int = Field(BATCH, ge=0, description="images attacked together; 0: all source images in one batch")
    pairs: list[tuple[int, int]] = Field(default_factory=lambda: [(7, 3), (1, 7), (0, 6), (4, 8)],
                                         description="source -> target pairs attacked with PGD over eps and the sweep")
    pair_images: int = Field(100, ge=10, description="source images per pair (the first ones of the split)")
    pairs_only: bool = Field(False, description="only the pairs: no headline attack, no eps sweep (the study's later seeds)")
    pair_sweep: list[float] = Field(default_factory=lambda: [0.02, 0.1],
                                    description="eps values tried on every pair besides eps (PGD with sweep_steps)")

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, v: list[tuple[int, int]]) -> list[tuple[int, int]]:
        for s, t in v:
            if not (0 <= s <= 9 and 0 <= t <= 9):
                raise ValueError(f"pair {s} -> {t}: classes must be 0-9")
            if s == t:
                raise ValueError(f"pair {s} -> {t}: source and target are the same class; a targeted attack needs two")
        if len(set(v)) != len(v):
            raise ValueError("a pair is listed twice")
        return v

    @field_validator("sweep", "pair_sweep")
    @classmethod
    def _sweep_range(cls, v: list[float]) -> list[float]:
        if any(e <= 0 or e > 1 for e in v):
            raise ValueError("every sweep eps must be in (0, 1]")
        return sorted(v)

    @model_validator(mode="after")
    def _source_not_target(self) -> "AttackConfig":
        if self.source_class == self.target_class:
            raise ValueError(f"source_class and target_class are both {self.source_class}; a targeted attack needs two classes")
        return self


class SAEConfig(Section):
    """``[sae]``: ``lazy sae`` (sparse autoencoders on hidden activations)."""

    layer: Optional[str] = Field(None, description="default: the penultimate layer (the input of the last Linear)")
    kind: Literal["topk", "l1"] = "topk"
    expansion: int = Field(8, ge=1, le=64)
    k: int = Field(8, ge=1, description="latents kept by TopK")
    l1: float = Field(3e-3, ge=0, description="L1 weight of the l1 variant")
    epochs: int = Field(5, ge=1, le=1000, description="per SAE (each sweep point)")
    batch_size: int = Field(256, ge=1)
    lr: float = Field(1e-3, gt=0)
    top_k: int = Field(16, ge=2, le=64, description="top-activating images per feature")
    n_features: int = Field(32, ge=20, le=512, description="live features labelled and drawn")
    n_interventions: int = Field(5, ge=1, le=50, description="colour and shape features each intervened on")
    factors: list[float] = Field(default_factory=lambda: [0.0, 2.0])
    n_intervention_images: int = Field(1000, ge=10, le=10_000, description="images of test_easy and of test_hard intervened on")
    sweep_expansions: list[int] = Field(default_factory=lambda: [4, 8],
                                        description="SAE sizes (latents = expansion x layer width) tried; [] : use expansion and k")
    sweep_k: list[int] = Field(default_factory=lambda: [4, 8, 16], description="TopK k values tried")
    ev_target: float = Field(0.95, gt=0, le=1, description="held-out explained variance a swept SAE must reach")
    dead_target: float = Field(0.10, ge=0, le=1, description="largest held-out dead fraction a swept SAE may have")
    aux_coef: float = Field(0.25, ge=0, description="weight of the AuxK loss on dead latents (topk; Gao et al. use 1/32)")
    dead_after: int = Field(10_000, ge=1, description="training samples without firing after which a latent counts as dead")
    grid_digits: int = Field(20, ge=2, le=200, description="digits per class in the labelling grid (each in every colour)")

    @field_validator("sweep_expansions", "sweep_k")
    @classmethod
    def _positive(cls, v: list[int], info: ValidationInfo) -> list[int]:
        if any(x < 1 for x in v):
            raise ValueError("an SAE size below the layer width: every expansion must be >= 1 (latents = expansion x width)"
                             if info.field_name == "sweep_expansions" else "every k must be >= 1")
        return sorted(set(v))


class StudyConfig(Section):
    """``[study]``: what ``lazy study`` runs and ``lazy report`` writes up."""

    model: str = "lazy-cnn"
    baseline: str = Field("erm", description="the strategy that learns the shortcut")
    strategies: list[str] = Field(default_factory=lambda: ["consistency", "spectral-decoupling", "group-dro"],
                                  description="robust strategies compared")
    seeds: int = Field(1, ge=1, le=10, description="seeds seed, seed+1, ... per strategy")
    oracle: bool = Field(True, description="also train the baseline on colour-blind copies (the colour-free ceiling)")
    analyses: list[str] = Field(default_factory=lambda: list(STUDY_ANALYSES),
                                description="analyses besides eval (which always runs), each on its runs (pipeline/analyses.py)")
    attack_every_seed: bool = Field(True, description="also attack the later seeds' runs (the pairs only), for the verdict over seeds")

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
        from .errors import UsageError
        from .runs import RESERVED_NAMES, check_name

        if v in RESERVED_NAMES - {"report"}:
            raise ValueError(f"report dir {v!r} is used by the runs/ layout; choose another")
        try:
            check_name(v if v != "report" else "report-dir", "report dir")
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        return v


class RunConfig(Section):
    """The whole run file."""

    seed: int = Field(0, ge=0)
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
        from .strategies import get_strategy

        name = name or self.train.strategy
        return get_strategy(name).Config.model_validate(self.strategy.get(name, {}))

    def dataset_name(self) -> str:
        return self.train.dataset or self.data.name

    def run_name(self) -> str:
        suffix = {"grayscale": "-gray", "colorblind": "-oracle"}.get(self.train.input, "")
        return self.train.name or f"{self.train.model}-{self.train.strategy}{suffix}-s{self.seed}"


def _validate_strategy_sections(cfg: RunConfig) -> list[str]:
    from .strategies import STRATEGIES

    problems = []
    for name, options in cfg.strategy.items():
        if name not in STRATEGIES:
            problems.append(f"strategy.{name}: unknown strategy; valid: {', '.join(sorted(STRATEGIES))}")
            continue
        try:
            STRATEGIES[name].Config.model_validate(options)
        except ValidationError as exc:
            problems += [f"strategy.{name}.{p}" for p in _format_errors(exc)]
    return problems


def _format_errors(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        msg = msg.removeprefix("Value error, ")
        msg = msg.replace("Input should be less than or equal to", "must be <=")
        msg = msg.replace("Input should be greater than or equal to", "must be >=")
        msg = msg.replace("Extra inputs are not permitted", "unknown key")
        problems.append(f"{loc}: {msg}" if loc else msg)
    return problems


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``tree['a']['b'] = value`` for ``dotted = 'a.b'``, creating tables."""
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        nxt = node.setdefault(key, {})
        if not isinstance(nxt, dict):
            raise UsageError(f"--set {dotted}: {key} is not a table")
        node = nxt
    node[keys[-1]] = value


def parse_set(item: str) -> tuple[str, Any]:
    """Parse ``key.path=value``; the value is read as a TOML literal, else as a string."""
    if "=" not in item:
        raise UsageError(f"--set {item!r}: expected KEY=VALUE, e.g. --set data.correlation=0.9")
    key, raw = item.split("=", 1)
    key = key.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows editors) is accepted
    except FileNotFoundError:
        raise UsageError(f"run file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read run file {path}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: malformed TOML: {exc}"]) from None


def load_config(path: Optional[Path] = None, overrides: Optional[dict[str, Any]] = None) -> RunConfig:
    """Defaults < run file < overrides (dotted keys); validated, with readable errors."""
    tree: dict[str, Any] = read_toml(path) if path else {}
    for key, value in (overrides or {}).items():
        if value is not None:
            set_dotted(tree, key, value)
    return validate_config(tree)


def validate_config(tree: dict[str, Any]) -> RunConfig:
    """A run-config tree (as in the TOML file) validated, strategy sections included;
    every problem becomes one line of a ``ConfigError``."""
    try:
        cfg = RunConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None
    problems = _validate_strategy_sections(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg
