"""``[data]`` and ``[train]``: what the dataset is and how a run is trained."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field, field_validator, model_validator

from ..data.palette import DEFAULT_PALETTE, NAMED_COLORS
from ..errors import UsageError
from .base import BATCH, ORACLE_LR, RGB, Section


def _known(kind: str, name: str, registry: dict[str, Any]) -> str:
    """``name`` when the registry has it; else an error that lists the valid names."""
    if name not in registry:
        raise ValueError(f"unknown {kind} {name!r}; valid: {', '.join(sorted(registry))}")
    return name


class DataConfig(Section):
    """``[data]``: how the Colored-MNIST dataset is built."""

    name: str = "colored-mnist"
    base: Literal["mnist", "fashion-mnist"] = "mnist"
    mnist_dir: Optional[Path] = None
    download: bool = True
    protocol: Literal["foreground", "background", "lff", "decoy", "texture"] = Field(
        "foreground", description="how the bias is drawn (data/protocols/): foreground | background | lff (colour) | "
        "decoy (a corner patch's shade) | texture (a background grating's orientation)")
    color_std: float = Field(0.005, ge=0.0, le=1.0, description="std of the per-image colour noise of the lff protocol")
    patch_size: int = Field(4, ge=1, le=14, description="side in pixels of the decoy protocol's corner patch (4: Decoy-MNIST's)")
    correlation: float = Field(0.95, ge=0.0, le=1.0)
    assignment: Literal["exact", "bernoulli", "balanced", "lff-order"] = Field(
        "exact", description="exact: round(correlation * n) aligned images per class; bernoulli: each image "
        "independently; balanced: exact, and each class's conflicting images spread evenly over the other colours (LfF's "
        "proportions, a random subset each); lff-order: LfF's released make_attr_labels, no draw: contiguous blocks of "
        "each class in MNIST's file order, the conflicting images its first and last few")
    n_train: int = Field(50_000, ge=10)
    n_val: int = Field(10_000, ge=10)
    n_test: int = Field(10_000, ge=10, le=10_000)
    seed: Optional[int] = Field(None, ge=0, le=2**32 - 1, description="defaults to the global seed")
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
            # protocols of the suite: only the knobs they read (the older protocols keep their fingerprints)
            **({"color_std": self.color_std} if self.protocol == "lff" else {}),
            **({"patch_size": self.patch_size} if self.protocol == "decoy" and self.patch_size != 4 else {}),
            # only when exact: a Bernoulli dataset built before the option existed keeps its fingerprint
            **({"assignment": self.assignment} if self.assignment != "bernoulli" else {}),
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
    select: Literal["auto", "val", "val-recolored", "val-worst-group", "val-pseudo-group", "val-proxy-group",
                    "last"] = Field(
        "auto", description="checkpoint rule (never hard data): val accuracy; accuracy on validation images "
        "recoloured by colour transforms; the worst group's val accuracy (needs group labels on val; groups "
        "class x {aligned, conflicting}); or val accuracy balanced over pseudo-groups (class x the strategy's bias "
        "proxy's prediction; no bias labels; strategies with a bias proxy: jtt, ula); val-proxy-group: the "
        "same average over the groups of one GCE-trained bias proxy shared by every run at the seed (any strategy; no "
        "bias labels; pipeline/bias_proxy.py); last: the final epoch, scored by nothing "
        "(what LfF's and many papers' code keep); auto: the strongest rule the strategy's "
        "knowledge allows (nothing: val, or val-pseudo-group for a strategy with a proxy; the shortcut's type or the "
        "generator: val-recolored; group labels on all training data: val-worst-group; dfr: val for its base "
        "model, its refit's C chosen on held-out worst-group accuracy)")
    proxy_model: Optional[str] = Field(None, description="the network of val-proxy-group's bias proxy (None: train.model), "
                                       "given the run's model options it takes; e.g. one proxy for methods on different "
                                       "networks")
    proxy_options: Optional[dict[str, Any]] = Field(None, description="the bias proxy's model options (None: the "
                                                    "run's, those it takes), e.g. the other methods' input scaling for "
                                                    "a method trained on another")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="auto: bf16 autocast where the device runs bf16 natively (fp32 for strategies that "
        "differentiate through the input), else fp32; the precision in force is stored with the run")
    eval_batch_size: int = Field(BATCH, ge=1, description="images per forward pass when scoring after each epoch")
    train_eval_size: int = Field(2_000, ge=0, description="train images re-scored after each epoch (logged only)")
    monitor_hard: bool = True
    monitor_size: int = Field(2_000, ge=0, description="images scored per epoch for what is logged only: the first of "
                              "test_hard (the hard monitor) and, under every checkpoint rule but val-recolored, of "
                              "recoloured val; 0: all")

    @field_validator("model")
    @classmethod
    def _known_model(cls, v: str) -> str:
        from ..models import MODELS

        return _known("model", v, MODELS)

    @field_validator("proxy_model")
    @classmethod
    def _known_proxy_model(cls, v: Optional[str]) -> Optional[str]:
        from ..models import MODELS

        return v if v is None else _known("model", v, MODELS)

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, v: str) -> str:
        from ..strategies import STRATEGIES

        return _known("strategy", v, STRATEGIES)

    @model_validator(mode="after")
    def _model_options_ok(self) -> "TrainConfig":
        from ..models import resolve_options

        try:
            resolve_options(self.model, self.model_options)
        except UsageError as exc:
            raise ValueError(str(exc).removeprefix("train.")) from None
        return self

    @model_validator(mode="after")
    def _pseudo_groups_need_a_proxy(self) -> "TrainConfig":
        from ..strategies import STRATEGIES

        cls = STRATEGIES.get(self.strategy)
        if self.select == "val-pseudo-group" and cls is not None and not cls.bias_proxy:
            with_proxy = ", ".join(sorted(n for n, c in STRATEGIES.items() if c.bias_proxy))
            raise ValueError(f"select = 'val-pseudo-group' needs a strategy with a bias proxy ({with_proxy}); "
                             f"{self.strategy!r} has none")
        return self

    @model_validator(mode="after")
    def _model_fits_strategy(self) -> "TrainConfig":
        from ..strategies import STRATEGIES

        cls = STRATEGIES.get(self.strategy)
        if cls is not None and cls.requires_model and self.model not in cls.requires_model:
            raise ValueError(f"strategy {self.strategy!r} trains model {' or '.join(map(repr, cls.requires_model))} "
                             f"only (train.model = {self.model!r})")
        owner = next((n for n, c in STRATEGIES.items() if self.model in c.requires_model), None)
        if owner is not None and self.strategy != owner:
            raise ValueError(f"model {self.model!r} is trained by strategy {owner!r} only (train.strategy = {self.strategy!r})")
        return self

    def learning_rate(self) -> float:
        """The learning rate in force: ``lr`` when given, else the oracle's (``ORACLE_LR``: the colour-blind reference is
        trained at the better of the two rates tried) or the strategy's own default (docs/strategies.md says how each was picked)."""
        from ..strategies import get_strategy

        if self.lr is not None:
            return self.lr
        if self.input != "rgb":
            return ORACLE_LR
        return get_strategy(self.strategy).default_lr

    def selection_rule(self, strategy_cfg: Any = None) -> str:
        """The checkpoint rule in force (``auto`` resolved by the strategy's knowledge with these options)."""
        from ..strategies import get_strategy

        return get_strategy(self.strategy).default_selection(strategy_cfg) if self.select == "auto" else self.select
