"""Interpretability family: colour reliance, counterfactual recolouring (more to come: gradcam, actmax)."""

from .base import Attribution
from .gradcam import GradCAM
from .integrated_gradients import IntegratedGradients
from .saliency import Saliency, SmoothGrad

ATTRIBUTIONS: dict[str, type[Attribution]] = {}


def _register(cls: type[Attribution]) -> None:
    if cls.name in ATTRIBUTIONS:
        raise ValueError(f"attribution {cls.name!r} is registered twice")
    ATTRIBUTIONS[cls.name] = cls


for _cls in (GradCAM, Saliency, SmoothGrad, IntegratedGradients):
    _register(_cls)
