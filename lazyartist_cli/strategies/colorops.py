"""On-the-fly colour transforms of batches, shared by strategies (no grayscale, no stored data changed).

All take x (B, 3, H, W) in [0, 1] and return a tensor of the same shape in [0, 1].
"""

from __future__ import annotations

import math

import torch


def channel_permute(x: torch.Tensor) -> torch.Tensor:
    """A random permutation of the RGB channels per image."""
    b = x.shape[0]
    perm = torch.rand(b, 3, device=x.device).argsort(1)  # (B, 3)
    return x.gather(1, perm[:, :, None, None].expand_as(x))


def hue_rotate(x: torch.Tensor) -> torch.Tensor:
    """Rotate hue by a random angle per image (rotation about the gray axis in RGB)."""
    b = x.shape[0]
    theta = torch.rand(b, device=x.device) * 2 * math.pi
    c, s = torch.cos(theta), torch.sin(theta)
    k = 1.0 / 3.0
    sq = math.sqrt(1.0 / 3.0)
    # Rodrigues rotation about (1,1,1)/sqrt(3)
    m = torch.empty(b, 3, 3, device=x.device)
    m[:, 0, 0] = c + (1 - c) * k
    m[:, 0, 1] = k * (1 - c) - sq * s
    m[:, 0, 2] = k * (1 - c) + sq * s
    m[:, 1, 0] = k * (1 - c) + sq * s
    m[:, 1, 1] = c + k * (1 - c)
    m[:, 1, 2] = k * (1 - c) - sq * s
    m[:, 2, 0] = k * (1 - c) - sq * s
    m[:, 2, 1] = k * (1 - c) + sq * s
    m[:, 2, 2] = c + k * (1 - c)
    return torch.einsum("bij,bjhw->bihw", m, x).clamp(0, 1)


def random_mix(x: torch.Tensor, gain: tuple[float, float] = (0.8, 1.6)) -> torch.Tensor:
    """Random non-negative colour mixing: each output channel a random convex
    combination of the input channels, times a random gain."""
    b = x.shape[0]
    m = torch.rand(b, 3, 3, device=x.device)
    m = m / m.sum(2, keepdim=True) * torch.empty(b, 3, 1, device=x.device).uniform_(*gain)
    return torch.einsum("bij,bjhw->bihw", m, x).clamp(0, 1)


COLOR_OPS = {"permute": channel_permute, "hue": hue_rotate, "mix": random_mix}


def recolor_views(x: torch.Tensor, ops: list[str]) -> torch.Tensor:
    """Apply one randomly chosen op (from ``ops``) per image."""
    if len(ops) == 1:
        return COLOR_OPS[ops[0]](x)
    choice = torch.randint(len(ops), (x.shape[0],), device=x.device)
    out = torch.empty_like(x)
    for i, name in enumerate(ops):
        sel = choice == i
        if sel.any():
            out[sel] = COLOR_OPS[name](x[sel])
    return out


def solid_colors(n: int, palette: torch.Tensor, size: int = 28, device=None) -> torch.Tensor:
    """Uniform colour images: the palette colours first, then random RGB colours. (n, 3, size, size)."""
    rand = torch.rand(max(n - palette.shape[0], 0), 3, device=device)
    cols = torch.cat([palette.to(device), rand])[:n]
    return cols[:, :, None, None].expand(n, 3, size, size).contiguous()
