"""Benchmark: vectorised colouring of all 70,000 images vs a per-sample loop.

The per-sample baseline is what a notebook typically does: a Dataset whose
``__getitem__`` draws a colour and a texture and colours ONE image, iterated
over every index. It is timed on a subset and scaled to the full 70,000.

    LAZY_MNIST_DIR=../shared/data/mnist python benchmarks/bench_make_data.py
"""

import argparse
import time

import torch
from torch.utils.data import Dataset

from lazyartist_cli.config import load_config
from lazyartist_cli.data.build import build_splits
from lazyartist_cli.data.colorize import assign_colors, compose, make_textures
from lazyartist_cli.data.mnist import load_base

from _timing import timed


class PerSampleColoredMNIST(Dataset):
    def __init__(self, digits, labels, palette, correlation, seed):
        self.digits, self.labels, self.palette, self.correlation = digits, labels, palette, correlation
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        label = self.labels[i : i + 1]
        color, _ = assign_colors(label, self.correlation, self.gen)
        noise, stripes = make_textures(1, self.gen)
        return compose(self.digits[i : i + 1], self.palette[color], noise, stripes)[0], label[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subset", type=int, default=5000, help="per-sample images actually timed")
    ap.add_argument("--repeats", type=int, default=3, help="vectorised runs timed (the best counts)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    cfg = load_config().data
    raw = load_base("mnist")
    tr_x, tr_y = torch.from_numpy(raw.train_images), torch.from_numpy(raw.train_labels)
    te_x, te_y = torch.from_numpy(raw.test_images), torch.from_numpy(raw.test_labels)
    splits, times = timed(lambda: build_splits(tr_x, tr_y, te_x, te_y, cfg.palette_rgb(), 0.95, 50_000, 10_000, 10_000, seed=0), args.repeats)
    vec = min(times)
    n_total = sum(s["labels"].shape[0] for s in splits.values())
    palette = torch.tensor(cfg.palette_rgb(), dtype=torch.float32) / 255
    ds = PerSampleColoredMNIST(tr_x, tr_y, palette, 0.95, 0)
    t0 = time.perf_counter()
    for i in range(args.subset):
        ds[i]
    per = (time.perf_counter() - t0) / args.subset * n_total
    print(f"vectorised: {n_total} images in {vec:.2f} s (best of {args.repeats}) ({n_total / vec:,.0f} images/s)")
    print(f"per-sample: {args.subset} images timed, {per:.2f} s extrapolated to {n_total} ({n_total / per:,.0f} images/s)")
    print(f"speed-up: {per / vec:.1f}x")


if __name__ == "__main__":
    main()
