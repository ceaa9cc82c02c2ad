"""Interpretability family: attributions (Grad-CAM, saliency, SmoothGrad, Integrated Gradients; registered below),
stroke mass (attention), colour vs brightness of attributions (chromatic), activation maximisation (actmax), unit
selectivity, colour reliance and counterfactual recolouring. One module each; the methods work on tensors and never print."""

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
