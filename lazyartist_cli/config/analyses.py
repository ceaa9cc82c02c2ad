"""The analyses' sections: ``[eval]``, ``[counterfactual]``, ``[gradcam]``, ``[probe]``, ``[attack]``, ``[sae]``."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .base import BATCH, Section


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

    @model_validator(mode="after")
    def _n_units_used(self) -> "ProbeConfig":
        if self.channels is not None and self.differs("n_units"):
            raise ValueError(f"probe.n_units = {self.n_units} is not used: probe.channels names the units "
                             f"({self.channels}); drop one of the two")
        return self


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
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="PGD's gradient steps in bf16 autocast where the device runs bf16 natively (auto), else fp32; "
        "every success, early stops included, is decided in fp32")
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

    @model_validator(mode="after")
    def _pairs_only_uses(self) -> "AttackConfig":
        """``pairs_only`` runs the pairs alone: the headline attack's and the eps sweep's options would be ignored."""
        if not self.pairs_only:
            return self
        if not self.pairs:
            raise ValueError("attack.pairs_only = true with attack.pairs = []: nothing would be attacked")
        unused = [n for n in ("source_class", "target_class", "n_images", "sweep", "sweep_images") if self.differs(n)]
        if unused:
            raise ValueError(f"attack.{unused[0]} = {getattr(self, unused[0])} is not used: attack.pairs_only = true runs only "
                             "the pairs (no headline attack, no eps sweep)")
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
    # the default sweep keeps the points that met both targets in an earlier study's six-point sweep (4x with k 8
    # or 16); there 8x and k 4 never did, and 8x cost twice as much (widen the sweep to measure it on your runs)
    sweep_expansions: list[int] = Field(default_factory=lambda: [4],
                                        description="SAE sizes (latents = expansion x layer width) tried; [] : use expansion and k")
    sweep_k: list[int] = Field(default_factory=lambda: [8, 16], description="TopK k values tried")
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

    @model_validator(mode="after")
    def _no_unused_option(self) -> "SAEConfig":
        """An option the chosen SAE never reads is an error, not silently ignored: k and expansion while the TopK
        sweep picks them, the TopK options of an l1 SAE, l1 of a TopK SAE. (A value equal to its default is
        accepted: ignoring it changes nothing, and the example run file lists every option.)"""
        given = self.differs
        problems = []
        if self.kind == "topk" and self.sweep_expansions and self.sweep_k:
            problems += [f"sae.{n} = {getattr(self, n)} is not used: the TopK sweep (sae.sweep_expansions x sae.sweep_k) "
                         f"picks it; to train one SAE with it, give --k (or set sae.sweep_expansions = [])"
                         for n in ("k", "expansion") if given(n)]
        elif self.kind == "l1":
            problems += [f"sae.{n} = {getattr(self, n)} is not used by an l1 SAE (a TopK option; sae.kind = \"topk\" uses it)"
                         for n in ("k", "aux_coef", "sweep_expansions", "sweep_k") if given(n)]
        if self.kind == "topk" and given("l1"):
            problems.append(f"sae.l1 = {self.l1} is not used by a TopK SAE (the l1 variant's weight; sae.kind = \"l1\" uses it)")
        if problems:
            raise ValueError("; ".join(problems))
        return self
