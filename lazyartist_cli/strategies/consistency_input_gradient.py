"""``consistency-input-gradient``: colour-augmentation consistency plus Ross et al.'s input-gradient penalty.

The two strategies attack the shortcut from two sides: ``consistency`` asks for
the same prediction on a recoloured view (invariance by data), ``input-gradient``
asks for a small chromatic part of d/dx sum_k log p_k on the stored images
(invariance by local sensitivity). The loss is the sum of the consistency
objective and ``weight`` x the chromatic penalty (+ ``brightness_weight`` x the
brightness penalty), each term exactly as in its own module. Costs the
consistency step plus a double-backward pass.

Options: every option of ``consistency`` and ``weight``, ``brightness_weight``
of ``input-gradient``. Knows that the bias is colour (with the ``stroke`` op: the
generator, as ``consistency``); no bias labels.
"""

from pydantic import Field

from .base import Strategy
from .consistency import ConsistencyConfig, consistency_loss
from .input_gradient import InputGradient, batch_penalties


class ConsistencyInputGradientConfig(ConsistencyConfig):
    weight: float = Field(10.0, ge=0, description="chromatic part of the input gradient, squared, summed over pixels")
    brightness_weight: float = Field(0.0, ge=0, description="squared derivative along a global brightness scaling")


class ConsistencyInputGradient(Strategy):
    name = "consistency-input-gradient"
    title = "consistency plus a chromatic input-gradient penalty"  # readable label of tables (README, report)
    Config = ConsistencyInputGradientConfig
    knows = "the shortcut's type"
    input_gradients = True  # differentiates through the input: trained in fp32 (precision.py)
    default_lr = 3e-3  # consistency's own

    @classmethod
    def knowledge(cls, cfg=None, protocol=None) -> str:
        from .consistency import Consistency

        return Consistency.knowledge(cfg, protocol)

    def loss(self, model, batch):
        x, y = batch["x"], batch["y"]
        loss, logs = consistency_loss(model, x, y, self.cfg)
        _, chroma, bright = batch_penalties(model, x, y, InputGradient.chunk)
        loss = loss + self.cfg.weight * chroma + self.cfg.brightness_weight * bright
        return loss, {**logs, "chroma_grad": chroma.item(), "brightness_grad": bright.item()}


STRATEGY = ConsistencyInputGradient
