"""Benchmark: `lazy`'s training loop vs a bare PyTorch loop on the same model and tensors.

Both train lazy-cnn with plain cross-entropy on the same in-memory tensors for
the same number of images; the ratio is lazy's images/s over the bare loop's
(target >= 0.9). The `lazy` side is `run_train` itself, run for one epoch on
a dataset stored in a temporary runs directory (its per-epoch evaluation is
not counted: images/s comes from the epoch's own timing).

    LAZY_MNIST_DIR=../shared/data/mnist python benchmarks/bench_train_loop.py
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from lazyartist_cli.config import load_config
from lazyartist_cli.models import build_model
from lazyartist_cli.pipeline.data import load_verified_split, run_make_data
from lazyartist_cli.pipeline.train import run_train


def bare_loop(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int) -> float:
    torch.manual_seed(seed)
    model = build_model("lazy-cnn")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    perm = torch.randperm(x.shape[0])
    t0 = time.perf_counter()
    for i in range(0, x.shape[0], batch_size):
        idx = perm[i : i + batch_size]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return x.shape[0] / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        cfg = load_config(None, {"device": "cpu", "train.epochs": 1, "train.monitor_hard": False})
        run_make_data(cfg, runs)
        x, y = load_verified_split(runs, cfg.data.name, "train")[0].tensors()
        lazy_ips, bare_ips = [], []
        for r in range(args.repeats):
            bare_ips.append(bare_loop(x, y, cfg.train.batch_size, r))
            res = run_train(load_config(None, {"device": "cpu", "seed": r, "train.epochs": 1, "train.monitor_hard": False,
                                               "train.name": f"bench{r}"}), runs)
            lazy_ips.append(res.images_per_second)
    best_lazy, best_bare = max(lazy_ips), max(bare_ips)
    print(json.dumps({"lazy_images_per_s": [round(v) for v in lazy_ips], "bare_images_per_s": [round(v) for v in bare_ips]}))
    print(f"lazy loop: {best_lazy:,.0f} images/s; bare loop: {best_bare:,.0f} images/s; ratio {best_lazy / best_bare:.2f}")


if __name__ == "__main__":
    main()
