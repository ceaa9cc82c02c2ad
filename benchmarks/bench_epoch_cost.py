"""Cost of one bare ERM epoch of the default network against `lazy-cnn-v1`, measured in one process.

Both train with plain cross-entropy (Adam, batch 128) on the same 50,000 real
Colored-MNIST training images, epochs interleaved (v1, default, v1, ...), best
of N each; the ratio default / v1 is the cost of the design change (target
<= 1.5), and the default's best epoch is the unit in which the README states
the study's cost ("bare ERM epochs").

    LAZY_MNIST_DIR=../shared/data/mnist python benchmarks/bench_epoch_cost.py [--repeats 3] [--runs-dir runs]
"""

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from lazyartist_cli.allocator import tune_allocator
from lazyartist_cli.config import load_config
from lazyartist_cli.models import build_model
from lazyartist_cli.pipeline.data import load_verified_split, run_make_data


def bare_epoch(name: str, x: torch.Tensor, y: torch.Tensor, seed: int, batch_size: int = 128) -> float:
    """Seconds for one epoch of plain cross-entropy training, nothing else."""
    torch.manual_seed(seed)
    model = build_model(name)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    perm = torch.randperm(x.shape[0])
    t0 = time.perf_counter()
    for i in range(0, x.shape[0], batch_size):
        idx = perm[i : i + batch_size]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"))
    args = ap.parse_args()
    tune_allocator()  # as every `lazy` process does (benchmarks/bench_allocator.py: what it changes)
    cfg = load_config(None, {"device": "cpu"})
    run_make_data(cfg, args.runs_dir)  # reused when it exists
    x, y = load_verified_split(args.runs_dir, cfg.data.name, "train")[0].tensors()
    times: dict[str, list[float]] = {"lazy-cnn-v1": [], "lazy-cnn": []}
    for r in range(args.repeats):
        for name in times:
            times[name].append(bare_epoch(name, x, y, r))
    best = {k: min(v) for k, v in times.items()}
    print(json.dumps({"seconds": {k: [round(t, 2) for t in v] for k, v in times.items()},
                      "best_seconds": {k: round(v, 2) for k, v in best.items()},
                      "ratio_default_over_v1": round(best["lazy-cnn"] / best["lazy-cnn-v1"], 3)}))
    print(f"one bare ERM epoch: lazy-cnn {best['lazy-cnn']:.2f} s, lazy-cnn-v1 {best['lazy-cnn-v1']:.2f} s; "
          f"ratio {best['lazy-cnn'] / best['lazy-cnn-v1']:.2f}")


if __name__ == "__main__":
    main()
