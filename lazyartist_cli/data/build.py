"""Build the four splits of a shortcut dataset from the base dataset, vectorised.

Splits: ``train`` and ``val`` from the base training set (disjoint, a seeded
permutation), ``test_easy`` and ``test_hard`` from the same base test digits
with the same per-image nuisance (textures, corners, colour noise), so the two
differ only in the bias attribute (the colour on the colour protocols).
In ``train``/``val``/``test_easy`` exactly round(``correlation`` x n_k) of
each class's n_k images take the class's dominant colour (``assignment =
"exact"``; ``"bernoulli"``: each image with probability ``correlation``);
``test_hard`` never does.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch

from .colorize import assign_colors, conflicting_colors
from .protocols import ProtocolOptions, get_protocol

SPLITS = ("train", "val", "test_easy", "test_hard")
CHUNK = 512

Split = dict[str, torch.Tensor]


def color_split(
    digits: torch.Tensor,
    labels: torch.Tensor,
    colors: torch.Tensor,
    palette: torch.Tensor,
    protocol: str,
    generator: torch.Generator,
    stripe_prob: float,
    textures: Optional[dict[str, torch.Tensor]] = None,
    keep_textures: bool = False,
    color_std: float = 0.0,
    patch_size: int = 4,
) -> tuple[Split, Optional[dict[str, torch.Tensor]]]:
    """Draw ``digits`` (N, 28, 28) uint8 with bias values ``colors`` under ``protocol``
    (``protocols/``; on a colour protocol ``colors`` index the palette).

    Works in chunks of ``CHUNK`` images so that every intermediate tensor stays
    in the CPU cache (one pass over a 10,000-image float tensor is memory-bound;
    the same pass over 512 images is not). The per-image nuisance (textures,
    corners, colour noise) is drawn chunk by chunk unless given; ``keep_textures``
    returns it for reuse (test_hard reuses test_easy's)."""
    proto = get_protocol(protocol)
    opts = ProtocolOptions(stripe_prob=stripe_prob, color_std=color_std, patch_size=patch_size)
    n = digits.shape[0]
    images = torch.empty(n, 3, *digits.shape[1:], dtype=torch.uint8)
    kept: dict[str, list[torch.Tensor]] = {}
    for start in range(0, n, CHUNK):
        sl = slice(start, start + CHUNK)
        if textures is None:
            nuisance = proto.nuisance(digits[sl].shape[0], generator, digits.shape[-1], opts)
        else:
            nuisance = {k: v[sl] for k, v in textures.items()}
        if keep_textures:
            for k, v in nuisance.items():
                kept.setdefault(k, []).append(v)
        images[sl] = proto.compose(digits[sl], colors[sl], palette, nuisance, opts)
    split = {
        "images": images,
        "labels": labels.clone(),
        "colors": colors.clone(),
        "aligned": colors == labels,
        "digits": digits.clone(),
    }
    out = {k: torch.cat(v) for k, v in kept.items()} if keep_textures else textures
    return split, out


def build_splits(
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    palette_rgb: list[tuple[int, int, int]],
    correlation: float,
    n_train: int,
    n_val: int,
    n_test: int,
    seed: int,
    protocol: str = "foreground",
    stripe_prob: float = 0.3,
    progress: Optional[Callable[[str], None]] = None,
    assignment: str = "exact",
    color_std: float = 0.0,
    patch_size: int = 4,
) -> dict[str, Split]:
    """All four splits as dicts of tensors (see ``dataset.py`` for the format)."""
    gen = torch.Generator().manual_seed(seed)
    palette = torch.tensor(palette_rgb, dtype=torch.float32) / 255.0  # (10, 3)
    perm = torch.randperm(train_images.shape[0], generator=gen)
    train_idx, val_idx = perm[:n_train], perm[n_train : n_train + n_val]
    if assignment == "lff-order":  # LfF's blocks follow MNIST's file order: keep it inside each split
        train_idx, val_idx = train_idx.sort().values, val_idx.sort().values
    test_idx = torch.arange(n_test)
    out: dict[str, Split] = {}
    for name, idx in (("train", train_idx), ("val", val_idx)):
        colors, _ = assign_colors(train_labels[idx], correlation, gen, assignment=assignment)
        out[name], _ = color_split(train_images[idx], train_labels[idx], colors, palette, protocol, gen, stripe_prob,
                                  color_std=color_std, patch_size=patch_size)
        if progress:
            progress(name)
    digits, labels = test_images[test_idx], test_labels[test_idx]
    easy_colors, _ = assign_colors(labels, correlation, gen, assignment=assignment)
    hard_colors = conflicting_colors(labels, gen)
    out["test_easy"], textures = color_split(digits, labels, easy_colors, palette, protocol, gen, stripe_prob, keep_textures=True,
                                            color_std=color_std, patch_size=patch_size)
    if progress:
        progress("test_easy")
    out["test_hard"], _ = color_split(digits, labels, hard_colors, palette, protocol, gen, stripe_prob, textures,
                                     color_std=color_std, patch_size=patch_size)
    if progress:
        progress("test_hard")
    return out
