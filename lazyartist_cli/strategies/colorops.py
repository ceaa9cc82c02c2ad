"""On-the-fly colour transforms of batches, shared by strategies (no grayscale, no stored data changed).

All take x (B, 3, H, W) in [0, 1] and return a tensor of the same shape in [0, 1],
with parameters drawn independently per image from torch's global generator.

Two families:

* colour ops (``permute``, ``hue``, ``mix``, ``stroke``) change the hue of the stroke;
  ``stroke`` (a targeted augmentation) gives the stroke a new random colour of any
  hue, saturation and brightness and leaves the background as it was.
  ``permute`` and ``hue`` (a rotation about the gray axis) keep every pixel's
  channel mean (``hue`` up to the clamp to [0, 1] for saturated colours), so on
  their own they leave brightness as a cue: the default palette's colours fall
  into about four brightness levels.
* photometric jitter (``brightness``, ``contrast``, ``saturation``, ``gamma``)
  changes brightness and saturation, as torchvision's ``ColorJitter`` does:
  brightness ``x * f``; contrast ``m + f (x - m)`` about the image's mean
  luminance ``m``; saturation ``l + f (x - l)`` about each pixel's luminance
  ``l``; gamma ``x ** g``. ``f`` is uniform in ``[1 - s, 1 + s]`` and
  ``log g`` uniform in ``[-s log 2, s log 2]`` for a strength ``s``.

``recolor_views(x, ops, compose)`` applies one op chosen at random per image,
or (``compose=True``) every op in turn, in a random order per batch.
"""

from __future__ import annotations

import math

import torch

LUMA = (0.299, 0.587, 0.114)


def _luminance(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) Rec. 601 luminance."""
    w = torch.tensor(LUMA, dtype=x.dtype, device=x.device)
    return torch.einsum("bchw,c->bhw", x, w)[:, None]


def _factor(b: int, strength: float, device) -> torch.Tensor:
    """(B, 1, 1, 1) factors uniform in [max(0, 1 - s), 1 + s]."""
    return torch.empty(b, 1, 1, 1, device=device).uniform_(max(0.0, 1.0 - strength), 1.0 + strength)


def channel_permute(x: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """A random permutation of the RGB channels per image."""
    b = x.shape[0]
    perm = torch.rand(b, 3, device=x.device).argsort(1)  # (B, 3)
    return x.gather(1, perm[:, :, None, None].expand_as(x))


def hue_rotate(x: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """Rotate hue by a random angle per image (rotation about the gray axis in RGB),
    uniform in [-pi s, pi s] (s = 1: any hue)."""
    b = x.shape[0]
    theta = (torch.rand(b, device=x.device) * 2 - 1) * math.pi * strength
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


def random_mix(x: torch.Tensor, strength: float = 1.0, gain: tuple[float, float] = (0.8, 1.6)) -> torch.Tensor:
    """Random non-negative colour mixing: each output channel a random convex
    combination of the input channels, times a random gain."""
    b = x.shape[0]
    m = torch.rand(b, 3, 3, device=x.device)
    m = m / m.sum(2, keepdim=True) * torch.empty(b, 3, 1, device=x.device).uniform_(*gain)
    return torch.einsum("bij,bjhw->bihw", m, x).clamp(0, 1)


def brightness(x: torch.Tensor, strength: float = 0.8) -> torch.Tensor:
    """x * f per image."""
    return (x * _factor(x.shape[0], strength, x.device)).clamp(0, 1)


def contrast(x: torch.Tensor, strength: float = 0.8) -> torch.Tensor:
    """Blend with the image's mean luminance: m + f (x - m)."""
    m = _luminance(x).mean((2, 3), keepdim=True)  # (B, 1, 1, 1)
    return (m + _factor(x.shape[0], strength, x.device) * (x - m)).clamp(0, 1)


def saturation(x: torch.Tensor, strength: float = 0.8) -> torch.Tensor:
    """Blend with each pixel's luminance: l + f (x - l) (f = 0: gray, f > 1: more saturated)."""
    lum = _luminance(x)
    return (lum + _factor(x.shape[0], strength, x.device) * (x - lum)).clamp(0, 1)


def gamma(x: torch.Tensor, strength: float = 0.8) -> torch.Tensor:
    """x ** g per image, log g uniform in [-s log 2, s log 2]."""
    log_g = (torch.rand(x.shape[0], 1, 1, 1, device=x.device) * 2 - 1) * strength * math.log(2.0)
    return x.clamp_min(1e-6).pow(log_g.exp()).clamp(0, 1)


def random_hsv(b: int, device=None, s_range=(0.2, 1.0), v_range=(0.45, 1.0)) -> torch.Tensor:
    """(B, 3) RGB colours in [0, 1]: hue uniform, saturation and value uniform in the
    given ranges (the defaults cover every colour of the default palette, brown and pink
    included, and leave out colours too dark to tell from the background)."""
    h = torch.rand(b, 1, device=device)
    s = torch.empty(b, 1, device=device).uniform_(*s_range)
    v = torch.empty(b, 1, device=device).uniform_(*v_range)
    n = torch.tensor([5.0, 3.0, 1.0], device=device)
    k = (n + 6.0 * h) % 6.0  # (B, 3): R, G, B
    return v - v * s * torch.minimum(k, 4.0 - k).clamp(0, 1)


def stroke_recolor(x: torch.Tensor, strength: float = 1.0, top: int = 8) -> torch.Tensor:
    """Targeted augmentation (Gao et al. 2023): give the stroke a new random colour
    (random hue, saturation and value) and keep everything else, read from the image alone.

    Per image: the stroke colour ``c`` is the mean of the ``top`` brightest pixels (the
    digit's core, where the stroke covers the pixel), the background ``b`` is the per-channel
    median (most pixels of a digit image are background); each pixel's stroke coverage is
    its projection on ``c - b``, clamped to [0, 1]; the new image is ``x + a (c' - c)``.
    Made for the foreground protocol (coloured stroke on a dark background); on
    background-protocol images it recolours the light stroke, which carries no colour.
    """
    b = x.shape[0]
    flat = x.flatten(2)  # (B, 3, HW)
    lum = _luminance(x).flatten(1)  # (B, HW)
    idx = lum.topk(min(top, lum.shape[1]), dim=1).indices  # (B, top)
    c = flat.gather(2, idx[:, None].expand(-1, 3, -1)).mean(2)  # (B, 3)
    bg = flat.median(2).values  # (B, 3)
    d = c - bg
    alpha = (((flat - bg[:, :, None]) * d[:, :, None]).sum(1) / (d * d).sum(1, keepdim=True).clamp_min(1e-6)).clamp(0, 1)
    new = random_hsv(b, x.device)
    out = flat + alpha[:, None] * (new - c)[:, :, None]
    return out.view_as(x).clamp(0, 1)


COLOR_OPS = {
    "permute": channel_permute, "hue": hue_rotate, "mix": random_mix, "stroke": stroke_recolor,
    "brightness": brightness, "contrast": contrast, "saturation": saturation, "gamma": gamma,
}
HUE_OPS = ("permute", "hue", "mix", "stroke")
JITTER_OPS = ("brightness", "contrast", "saturation", "gamma")


def recolor_views(x: torch.Tensor, ops: list[str], compose: bool = False, strength: float = 0.8) -> torch.Tensor:
    """One randomly chosen op per image, or with ``compose`` every op in a random order.
    ``strength`` is passed to the jitter ops (the hue ops always cover every hue)."""
    if compose:
        out = x
        for i in torch.randperm(len(ops)).tolist():
            name = ops[i]
            out = COLOR_OPS[name](out, strength if name in JITTER_OPS else 1.0)
        return out
    if len(ops) == 1:
        return COLOR_OPS[ops[0]](x, strength if ops[0] in JITTER_OPS else 1.0)
    choice = torch.randint(len(ops), (x.shape[0],), device=x.device)
    out = torch.empty_like(x)
    for i, name in enumerate(ops):
        sel = choice == i
        if sel.any():
            out[sel] = COLOR_OPS[name](x[sel], strength if name in JITTER_OPS else 1.0)
    return out


def solid_colors(n: int, palette: torch.Tensor, size: int = 28, device=None) -> torch.Tensor:
    """Uniform colour images: the palette colours first, then random RGB colours. (n, 3, size, size)."""
    rand = torch.rand(max(n - palette.shape[0], 0), 3, device=device)
    cols = torch.cat([palette.to(device), rand])[:n]
    return cols[:, :, None, None].expand(n, 3, size, size).contiguous()
