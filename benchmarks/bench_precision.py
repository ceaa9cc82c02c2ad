"""Training cost by precision: fp32 against bf16 autocast (channels-last on a CPU), in one process.

For `erm` and `consistency` (the study's cheapest and costliest strategies), one
epoch of the real training step (the strategy's loss, Adam, batch 128) on the
50,000 Colored-MNIST training images, fp32 and bf16 interleaved, best of N each;
prints seconds and the ratio bf16 / fp32 per strategy. `train.precision = "auto"`
uses bf16 where `precision.native_bf16` says the device runs it natively.

    LAZY_MNIST_DIR=../shared/data/mnist python benchmarks/bench_precision.py [--repeats 2] [--runs-dir runs]
"""

import argparse
import json
import time
from pathlib import Path

import torch

from lazyartist_cli.allocator import tune_allocator
from lazyartist_cli.config import load_config
from lazyartist_cli.models import build_model
from lazyartist_cli.pipeline.data import load_verified_split, run_make_data
from lazyartist_cli.precision import autocast, memory_format, native_bf16
from lazyartist_cli.strategies import StrategyContext, build_strategy


def epoch_seconds(strategy: str, precision: str, x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    torch.manual_seed(seed)
    cfg = load_config(None, {"train.strategy": strategy, "device": "cpu"})
    device = torch.device("cpu")
    layout = memory_format(precision, device)
    model = build_model("lazy-cnn").to(memory_format=layout)
    strat = build_strategy(strategy, cfg.strategy_config(), StrategyContext(n_train=x.shape[0]))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    perm = torch.randperm(x.shape[0])
    t0 = time.perf_counter()
    for i in range(0, x.shape[0], 128):
        idx = perm[i : i + 128]
        with autocast(precision, device):
            loss, _ = strat.loss(model, {"x": x[idx].contiguous(memory_format=layout), "y": y[idx], "index": idx})
        opt.zero_grad(set_to_none=True)
        loss.float().backward()
        opt.step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"))
    args = ap.parse_args()
    tune_allocator()  # as every `lazy` process does (benchmarks/bench_allocator.py: what it changes)
    cfg = load_config(None, {"device": "cpu"})
    run_make_data(cfg, args.runs_dir)  # reused when it exists
    x, y = load_verified_split(args.runs_dir, cfg.data.name, "train")[0].tensors()
    out = {"native_bf16": native_bf16(torch.device("cpu")), "seconds": {}, "ratio_bf16_over_fp32": {}}
    for strategy in ("erm", "consistency"):
        times: dict[str, list[float]] = {"fp32": [], "bf16": []}
        for r in range(args.repeats):
            for precision in times:
                times[precision].append(epoch_seconds(strategy, precision, x, y, r))
        out["seconds"][strategy] = {k: [round(t, 2) for t in v] for k, v in times.items()}
        out["ratio_bf16_over_fp32"][strategy] = round(min(times["bf16"]) / min(times["fp32"]), 3)
        print(f"{strategy}: fp32 {min(times['fp32']):.2f} s, bf16 {min(times['bf16']):.2f} s per epoch; "
              f"ratio {out['ratio_bf16_over_fp32'][strategy]:.2f}", flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
