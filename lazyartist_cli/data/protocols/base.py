"""The protocol base class and the options every protocol is drawn with."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ProtocolOptions:
    """Knobs of the generator (``[data]``): the share of striped backgrounds (foreground and
    background protocols), the std of the per-image colour noise (``lff``) and the side of the
    corner patch (``decoy``)."""

    stripe_prob: float = 0.3
    color_std: float = 0.0
    patch_size: int = 4


class Protocol:
    name: str = ""
    kind: str = "colour"  # the shortcut's type: colour | patch | texture
    description: str = ""

    def nuisance(self, n: int, generator: torch.Generator, size: int, opts: ProtocolOptions) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def compose(self, digits: torch.Tensor, bias: torch.Tensor, palette: torch.Tensor,
                nuisance: dict[str, torch.Tensor], opts: ProtocolOptions) -> torch.Tensor:
        raise NotImplementedError

    def bias_names(self, palette_names: list[str]) -> list[str]:
        """A readable name of each bias value (grids, failure lists)."""
        return list(palette_names)
