"""Vectorised colouring of grayscale digits (the heart of Colored-MNIST).

Two protocols, both working on whole batches of tensors:

* ``foreground``: the stroke takes the colour (grayscale intensity x colour)
  over a dark, textured background: low-amplitude noise plus, in some images,
  low-frequency stripes (never a flat colour, so "dark pixels" are not a
  trivial cue).
* ``background``: a light stroke over a background of the colour, modulated
  by the same kind of texture.

Shapes: digits (N, 28, 28) uint8; colours (N, 3) float in [0, 1];
noise (N, 3, 28, 28) uint8; stripes (N, 28, 28) float; images (N, 3, 28, 28) uint8.
"""

from __future__ import annotations

import math

import torch

PROTOCOLS = ("foreground", "background")
STROKE_LIGHT = 0.95  # stroke intensity of the background protocol


ASSIGNMENTS = ("exact", "bernoulli", "balanced", "lff-order")


def assign_colors(
    labels: torch.Tensor, correlation: float, generator: torch.Generator, n_classes: int = 10,
    assignment: str = "exact",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour index per image: its class's colour or one of the other ``n_classes - 1``
    colours (uniformly). Returns (colors, aligned).

    ``exact``: of the n_k images of class k, exactly round(correlation * n_k), a random
    subset, take the class's colour, so every class (and the split) holds the stated
    correlation up to rounding. ``bernoulli``: each image independently with probability
    ``correlation`` (the datasets built before exact assignment; a 10,000-image split
    then lands within about +-0.4 points of the target, e.g. 94.62% for 95%). ``balanced``: as ``exact``,
    and each class's conflicting images are split as evenly as rounding allows over the other colours (a
    random subset each), as LfF's generator does (``make_attr_labels``: every off-diagonal (class, colour) group
    of a class gets (1 - correlation) / (n_classes - 1) of it), instead of drawing each one's colour. LfF rounds
    cumulative sums that include the aligned block, so its counts can differ from these by one image.
    ``lff-order``: LfF's own blocks in the split's order, no draw (``_lff_order``; the split then keeps MNIST's
    order)."""
    n = labels.shape[0]
    if assignment == "balanced":
        return _balanced(labels, correlation, generator, n_classes)
    if assignment == "lff-order":
        return _lff_order(labels, correlation, n_classes)
    if assignment == "bernoulli":
        aligned = torch.rand(n, generator=generator) < correlation
    elif assignment == "exact":
        aligned = torch.zeros(n, dtype=torch.bool)
        for k in range(n_classes):
            members = torch.nonzero(labels == k).flatten()
            keep = aligned_count(correlation, members.shape[0])
            chosen = members[torch.randperm(members.shape[0], generator=generator)[:keep]]
            aligned[chosen] = True
    else:
        raise ValueError(f"unknown colour assignment {assignment!r}; known: {', '.join(ASSIGNMENTS)}")
    shift = torch.randint(1, n_classes, (n,), generator=generator)
    colors = torch.where(aligned, labels, (labels + shift) % n_classes)
    return colors, aligned


def _balanced(labels: torch.Tensor, correlation: float, generator: torch.Generator, n_classes: int
              ) -> tuple[torch.Tensor, torch.Tensor]:
    colors = labels.clone()
    for k in range(n_classes):
        members = torch.nonzero(labels == k).flatten()
        members = members[torch.randperm(members.shape[0], generator=generator)]
        conflicting = members[aligned_count(correlation, members.shape[0]):]
        # the other colours, each a block of the (randomly ordered) conflicting images, sizes by cumulative rounding
        edges = [math.floor(conflicting.shape[0] * j / (n_classes - 1) + 0.5) for j in range(n_classes)]
        for j in range(n_classes - 1):
            colors[conflicting[edges[j]:edges[j + 1]]] = (k + 1 + j) % n_classes
    return colors, colors == labels


def _lff_order(labels: torch.Tensor, correlation: float, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """LfF's ``make_attr_labels`` as released: no draw at all. Each class's images, in the order given (MNIST's file
    order when the split keeps it), are cut into ten contiguous blocks, colour j taking the images between the rounded
    cumulative shares of colours < j and <= j (the class's own colour ``correlation``, each other one
    (1 - correlation) / 9): the conflicting images are the first and the last few of each class, the same ones
    whatever the seed."""
    colors = labels.clone()
    for k in range(n_classes):
        members = torch.nonzero(labels == k).flatten()  # ascending: the order of the split
        shares = torch.full((n_classes,), (1.0 - correlation) / (n_classes - 1), dtype=torch.float64)
        shares[k] = correlation
        milestones = torch.round(members.shape[0] * torch.cumsum(shares, 0))  # numpy's round too: half to even
        position = torch.arange(members.shape[0], dtype=torch.float64)
        colors[members] = torch.searchsorted(milestones, position, right=True).clamp(max=n_classes - 1)
    return colors, colors == labels


def aligned_count(correlation: float, n: int) -> int:
    """Images of an ``n``-image class that take its colour under exact assignment (half rounds up)."""
    return min(n, int(math.floor(correlation * n + 0.5)))


def conflicting_colors(labels: torch.Tensor, generator: torch.Generator, n_classes: int = 10) -> torch.Tensor:
    """Never the dominant colour: uniformly one of the other ``n_classes - 1``."""
    shift = torch.randint(1, n_classes, (labels.shape[0],), generator=generator)
    return (labels + shift) % n_classes


def random_bytes(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Uniform uint8 noise of ``shape``, drawn 8 bytes per 64-bit draw (several times
    faster than ``torch.rand`` on a CPU, and the colouring only needs 256 levels)."""
    numel = math.prod(shape)
    words = torch.randint(-(2**63), 2**63 - 1, (-(-numel // 8),), generator=generator, dtype=torch.int64)
    return words.view(torch.uint8)[:numel].view(shape)


def make_textures(n: int, generator: torch.Generator, size: int = 28, stripe_prob: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """Background textures: (noise (N, 3, H, W) uint8, stripes (N, H, W) float in [0, 1]).

    Stripes are a sinusoid of random orientation, phase and a low frequency
    (2 to 5 cycles across the image), present in ``stripe_prob`` of images
    (computed only for those; the others are zero).
    """
    noise = random_bytes((n, 3, size, size), generator)
    theta = torch.rand(n, generator=generator) * math.pi
    freq = 2.0 + 3.0 * torch.rand(n, generator=generator)
    phase = torch.rand(n, generator=generator) * 2 * math.pi
    has = torch.nonzero(torch.rand(n, generator=generator) < stripe_prob).flatten()
    coords = torch.arange(size, dtype=torch.float32) / size
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")  # (H, W)
    th, fr, ph = theta[has, None, None], freq[has, None, None], phase[has, None, None]
    proj = xx[None] * torch.cos(th) + yy[None] * torch.sin(th)
    stripes = torch.zeros(n, size, size)
    stripes[has] = 0.5 + 0.5 * torch.sin(2 * math.pi * fr * proj + ph)
    return noise, stripes


def compose(
    digits: torch.Tensor,
    rgb: torch.Tensor,
    noise: torch.Tensor,
    stripes: torch.Tensor,
    protocol: str = "foreground",
) -> torch.Tensor:
    """Colour a batch of digits; returns uint8 images (N, 3, H, W). ``noise`` is uint8."""
    alpha = (digits * (1.0 / 255.0))[:, None]  # (N, 1, H, W) float: uint8 * float promotes in one pass
    col = rgb[:, :, None, None].float()  # (N, 3, 1, 1)
    if protocol == "foreground":
        # in 0..255 units: dark background, noise up to 25.5 per channel, stripes add up to 38.25 (grey);
        # img = alpha * col + (1 - alpha) * background, always inside [0, 255]
        background = (noise * 0.1).add_(stripes[:, None], alpha=38.25)
        img = background.addcmul_(alpha, col * 255.0 - background)
        return img.round_().to(torch.uint8)
    elif protocol == "background":
        # the colour, modulated in brightness by texture (0.55 .. 0.95)
        texture = 0.55 + (0.25 / 255.0) * noise.float().mean(1, keepdim=True) + 0.15 * stripes[:, None]
        img = alpha * STROKE_LIGHT + (1 - alpha) * col * texture
    else:
        raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    return (img.clamp(0, 1) * 255.0).round().to(torch.uint8)


RECOLORABLE = ("foreground", "background", "lff")  # the protocols whose images ``recolor`` can recolour


def recolor(
    images: torch.Tensor, digits: torch.Tensor, old_rgb: torch.Tensor, new_rgb: torch.Tensor, protocol: str
) -> torch.Tensor:
    """Give already coloured images a new colour, keeping stroke and texture.

    images (N, 3, H, W) float in [0, 1]; digits (N, H, W) uint8 (the grayscale
    stroke); old_rgb, new_rgb (N, 3) in [0, 1]. Returns float images in [0, 1].
    """
    alpha = (digits.float() / 255.0)[:, None]
    old = old_rgb[:, :, None, None]
    new = new_rgb[:, :, None, None]
    if protocol in ("foreground", "lff"):  # lff: alpha * (colour + noise) on black; the noise stays
        out = images + alpha * (new - old)
    elif protocol == "background":
        # background part = (1 - alpha) * old * texture: recover texture from old's strongest channel
        strongest = old_rgb.argmax(1)  # (N,)
        idx = strongest[:, None, None, None].expand(-1, 1, *images.shape[2:])
        part = images.gather(1, idx) - alpha * STROKE_LIGHT
        denom = ((1 - alpha) * old.gather(1, strongest[:, None, None, None])).clamp_min(1e-3)
        texture = (part / denom).clamp(0, 1.5)
        out = alpha * STROKE_LIGHT + (1 - alpha) * new * texture
    else:
        raise ValueError(f"protocol {protocol!r} has no colour to recolour; valid: {', '.join(RECOLORABLE)}")
    return out.clamp(0, 1)
