"""Benchmark: batched targeted PGD vs the same attack run image by image.

    python benchmarks/bench_attack.py [--n 128] [--steps 20]

Early stopping is disabled (confidence 1.01 can never be reached) so that
both sides do exactly the same number of steps; a fresh lazy-cnn is used
(weights do not change the cost).
"""

import argparse
import torch

from lazyartist_cli.attacks import ATTACKS
from lazyartist_cli.models import build_model

from _timing import timed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = build_model("lazy-cnn")
    x = torch.rand(args.n, 3, 28, 28)
    target = torch.full((args.n,), 3)
    pgd = ATTACKS["pgd"](eps=0.05, step=0.01, steps=args.steps, confidence=1.01)
    batched, tbs = timed(lambda: pgd(model, x, target).x_adv, args.repeats)
    single, tls = timed(lambda: torch.cat([pgd(model, x[i : i + 1], target[i : i + 1]).x_adv for i in range(args.n)]), args.repeats)
    tb, tl = min(tbs), min(tls)
    assert torch.allclose(batched, single, atol=1e-6)
    print(f"PGD {args.steps} steps on {args.n} images: batched {tb:.2f} s, per-image {tl:.2f} s, speed-up {tl / tb:.1f}x")


if __name__ == "__main__":
    main()
