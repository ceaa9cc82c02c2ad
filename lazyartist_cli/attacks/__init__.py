"""Attack family: targeted L-infinity attacks in [0, 1] pixel space, batched.

``Attack.__call__(model, x, target) -> AttackResult``; the base class puts
the model in eval mode and restores it, and every method projects onto the
eps-ball and [0, 1]. Registry filled by plain imports below.
"""

from __future__ import annotations

from ..errors import UsageError
from .base import Attack, AttackResult
from .fgsm import FGSM
from .pgd import PGD

ATTACKS: dict[str, type[Attack]] = {}


def _register(cls: type[Attack]) -> None:
    if cls.name in ATTACKS:
        raise ValueError(f"attack {cls.name!r} is registered twice")
    ATTACKS[cls.name] = cls


for _cls in (FGSM, PGD):
    _register(_cls)


def get_attack(name: str) -> type[Attack]:
    if name not in ATTACKS:
        raise UsageError(f"unknown attack {name!r}; valid: {', '.join(sorted(ATTACKS))}")
    return ATTACKS[name]


__all__ = ["ATTACKS", "Attack", "AttackResult", "get_attack"]
