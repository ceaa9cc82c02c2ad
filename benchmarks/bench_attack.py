"""Benchmark: batched targeted PGD vs the same attack run image by image.

    python benchmarks/bench_attack.py [--n 128] [--steps 20]

Early stopping is disabled (confidence 1.01 can never be reached) so that
both sides do exactly the same number of steps; a fresh lazy-cnn is used
(weights do not change the cost).
"""

import argparse
import time

import torch

from lazyartist_cli.attacks import ATTACKS
from lazyartist_cli.models import build_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = build_model("lazy-cnn")
    x = torch.rand(args.n, 3, 28, 28)
    target = torch.full((args.n,), 3)
    pgd = ATTACKS["pgd"](eps=0.05, step=0.01, steps=args.steps, confidence=1.01)
    pgd(model, x[:4], target[:4])  # warm-up
    t0 = time.perf_counter()
    batched = pgd(model, x, target).x_adv
    tb = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = torch.cat([pgd(model, x[i : i + 1], target[i : i + 1]).x_adv for i in range(args.n)])
    tl = time.perf_counter() - t0
    assert torch.allclose(batched, single, atol=1e-6)
    print(f"PGD {args.steps} steps on {args.n} images: batched {tb:.2f} s, per-image {tl:.2f} s, speed-up {tl / tb:.1f}x")


if __name__ == "__main__":
    main()
