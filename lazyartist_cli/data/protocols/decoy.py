"""``decoy``: Decoy-MNIST (Ross, Hughes & Doshi-Velez, IJCAI 2017, "Right for the right reasons").

A gray digit on a black background with a 4x4 gray patch in one of the four
corners (drawn per image, the nuisance); the patch's shade codes the bias value
``b``: ``255 - 25 b`` as in the paper (class 0: white, class 9: dark gray).
``data.patch_size`` sets the patch's side (4 in the paper): a larger patch is a
more salient shortcut, for a network that ignores the paper's.
In the paper the shade follows the class in every training image; here it does
so in ``data.correlation`` of them, like every protocol of the suite.
"""

from __future__ import annotations

import torch

from .base import Protocol

PATCH = 4  # the paper's side, the default of data.patch_size


def patch_shade(bias: torch.Tensor) -> torch.Tensor:
    """(N,) bias values -> (N,) patch intensities in 0..255."""
    return 255 - 25 * bias


def corner_mask(corner: torch.Tensor, size: int, patch: int = PATCH) -> torch.Tensor:
    """(N,) corner index (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) -> (N, H, W) bool, a
    ``patch`` x ``patch`` square in that corner."""
    r = torch.arange(size)
    top, left = r < patch, r < patch
    bottom, right = r >= size - patch, r >= size - patch
    rows = torch.where((corner >= 2)[:, None], bottom[None], top[None])  # (N, H)
    cols = torch.where((corner % 2 == 1)[:, None], right[None], left[None])  # (N, W)
    return rows[:, :, None] & cols[:, None, :]


class Decoy(Protocol):
    name = "decoy"
    kind = "patch"
    description = "gray digit, a corner patch (4x4 in the paper: data.patch_size) whose shade (255 - 25 b) codes the class (Decoy-MNIST)"

    def nuisance(self, n, generator, size, opts):
        return {"corner": torch.randint(0, 4, (n,), generator=generator)}

    def compose(self, digits, bias, palette, nuisance, opts):
        img = digits.clone()
        mask = corner_mask(nuisance["corner"], digits.shape[-1], opts.patch_size)
        shade = patch_shade(bias).to(torch.uint8)[:, None, None].expand_as(img)
        img[mask] = shade[mask]
        return img[:, None].expand(-1, 3, -1, -1).contiguous()

    def bias_names(self, palette_names):
        return [f"shade{int(s)}" for s in patch_shade(torch.arange(10))]


DECOY = Decoy()
