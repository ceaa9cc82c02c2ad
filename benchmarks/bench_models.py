"""Training throughput of each registered model on the CPU (random 28x28 RGB batches).

    python benchmarks/bench_models.py [--batches 5] [--batch-size 128]

Prints images/s and the implied seconds per epoch of 50,000 images.
"""

import argparse
import time

import torch
import torch.nn.functional as F

from lazyartist_cli.models import MODELS, build_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args()
    torch.manual_seed(0)
    x = torch.rand(args.batch_size, 3, 28, 28)
    y = torch.randint(0, 10, (args.batch_size,))
    for name in sorted(MODELS):
        model = build_model(name)
        opt = torch.optim.Adam(model.parameters())
        for i in range(args.batches + 1):
            if i == 1:  # the first batch is a warm-up
                t0 = time.perf_counter()
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        ips = args.batches * args.batch_size / (time.perf_counter() - t0)
        print(f"{name:10s} {ips:9,.0f} images/s  ~{50_000 / ips:7.0f} s per epoch of 50,000 images")


if __name__ == "__main__":
    main()
