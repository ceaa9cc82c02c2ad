"""Stored splits: the file format, a torch ``Dataset`` over one split, a loader helper.

A split file (``<split>.pt``) is a plain dict of tensors, readable without
this package via ``torch.load(path, weights_only=True)``:

* ``images``  uint8 (N, 3, 28, 28)
* ``labels``  int64 (N,)
* ``colors``  int64 (N,) palette index of the colour used
* ``aligned`` bool (N,) ``colors == labels``
* ``digits``  uint8 (N, 28, 28) the grayscale base digit (stroke mask)
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import LazyError
from ..runs import torch_load_safe
from ..seeding import worker_init_fn

FIELDS = {
    "images": torch.uint8,
    "labels": torch.int64,
    "colors": torch.int64,
    "aligned": torch.bool,
    "digits": torch.uint8,
}


def load_split_file(path: Path) -> dict[str, torch.Tensor]:
    """Load and type-check one split file; a damaged file is a one-line error."""
    data = torch_load_safe(path, "split file", "run `lazy make-data`")
    if not isinstance(data, dict):
        raise LazyError(f"split file {path} is not a dict of tensors")
    n = None
    for key, dtype in FIELDS.items():
        t = data.get(key)
        if not isinstance(t, torch.Tensor) or t.dtype != dtype:
            raise LazyError(f"split file {path}: field {key!r} missing or not {dtype}")
        if n is None:
            n = t.shape[0]
        elif t.shape[0] != n:
            raise LazyError(f"split file {path}: field {key!r} has {t.shape[0]} rows, expected {n}")
    return data


class ColoredMNIST(Dataset):
    """One split as a Dataset of (image float (3, 28, 28) in [0, 1], label)."""

    def __init__(self, data: dict[str, torch.Tensor], split: str):
        self.split = split
        self.images = data["images"]
        self.labels = data["labels"]
        self.colors = data["colors"]
        self.digits = data["digits"]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i].float().div_(255.0), self.labels[i]

    def __repr__(self) -> str:
        return f"ColoredMNIST(split={self.split!r}, n={len(self)})"

    def tensors(self, device: Optional[torch.device] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole split as (images float (N, 3, 28, 28) in [0, 1], labels) on ``device``."""
        x = self.images.to(device).float().div_(255.0)
        return x, self.labels.to(device)


def make_loader(
    dataset: ColoredMNIST, batch_size: int = 256, shuffle: bool = False, num_workers: int = 0, seed: int = 0
) -> DataLoader:
    """A seeded DataLoader: the same seed gives the same batches, workers included."""
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        generator=gen,
        worker_init_fn=worker_init_fn if num_workers else None,
    )
