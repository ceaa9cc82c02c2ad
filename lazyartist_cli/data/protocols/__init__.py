"""The shortcut suite: one generator, named protocols, an explicit registry.

A *protocol* says how the bias attribute ``b`` (an index 0..9; ``b == label``
for an aligned image) is drawn into an image. Every protocol has one verb pair:

* ``nuisance(n, generator, size, opts) -> dict`` draws what varies per image but
  is not the bias (background noise, a patch's corner, colour noise). The hard
  split reuses the easy split's nuisance, so test_easy[i] and test_hard[i] are
  the same digit on the same background and differ only in ``b``.
* ``compose(digits, bias, palette, nuisance, opts) -> images`` draws the images:
  digits (N, H, W) uint8, bias (N,) int64, palette (K, 3) float in [0, 1],
  returns (N, 3, H, W) uint8.

``kind`` names the shortcut's type ("colour", "patch", "texture"): what a
method that "knows the shortcut's type" is told. Analyses that only make sense
for colour (recolouring counterfactuals, chromatic attribution shares, colour
selectivity) run only where ``kind == "colour"`` and say "not applicable"
elsewhere. Adding a protocol is one module and one registry line.
"""

from __future__ import annotations

from typing import Any

from ...errors import UsageError
from .base import Protocol, ProtocolOptions

PROTOCOLS: dict[str, Protocol] = {}


def register(protocol: Protocol) -> Protocol:
    if protocol.name in PROTOCOLS:
        raise ValueError(f"protocol {protocol.name!r} is registered twice")
    PROTOCOLS[protocol.name] = protocol
    return protocol


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise UsageError(f"unknown protocol {name!r}; valid: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def shortcut_kind(meta: dict[str, Any]) -> str:
    """The shortcut's type of a stored dataset (datasets built before the suite are colour)."""
    return meta.get("bias", {}).get("kind", "colour")


from . import color, decoy, texture  # noqa: E402

for _p in (color.FOREGROUND, color.BACKGROUND, color.LFF, decoy.DECOY, texture.TEXTURE):
    register(_p)

__all__ = ["PROTOCOLS", "Protocol", "ProtocolOptions", "get_protocol", "register", "shortcut_kind"]
