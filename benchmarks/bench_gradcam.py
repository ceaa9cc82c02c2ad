"""Benchmark: batched Grad-CAM on 256 images vs a per-image loop of the same code.

    python benchmarks/bench_gradcam.py [--model lazy-cnn] [--n 256]

Weights do not change the cost, so a freshly initialised model is used.
"""

import argparse
import torch

from lazyartist_cli.interpret.gradcam import GradCAM
from lazyartist_cli.models import build_model

from _timing import timed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="lazy-cnn")
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = build_model(args.model)
    x = torch.rand(args.n, 3, 28, 28)
    cam = GradCAM()

    def batched_run() -> torch.Tensor:
        return cam(model, x).maps

    def looped_run() -> torch.Tensor:
        return torch.cat([cam(model, x[i : i + 1]).maps for i in range(args.n)])

    # each mode is warmed up, then timed `repeats` times in a row; the best time counts
    maps_b, batched = timed(batched_run, args.repeats)
    maps_l, looped = timed(looped_run, args.repeats)
    assert torch.allclose(maps_b, maps_l, atol=1e-5)
    b, l = min(batched), min(looped)
    print(f"{args.model}, {args.n} images: batched {b * 1000:.1f} ms, per-image loop {l * 1000:.1f} ms, speed-up {l / b:.1f}x")


if __name__ == "__main__":
    main()
