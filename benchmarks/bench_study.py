"""Cost of the default study in units of one bare ERM epoch, measured in one process (issue 14).

Runs `lazy study <run file>` on a fresh runs directory (the MNIST cache and the
dataset are built inside it, so data costs count too), and times one bare ERM
epoch of the default network (plain cross-entropy, Adam, batch 128, nothing else)
before and after the study in the same process. The machine's speed drifts 2-4x
over minutes, so the study's cost is stated in bare-epoch units: seconds divided
by the mean of the two bare epochs; per step too (from the study's own
`study.json`).

    LAZY_MNIST_DIR=../shared/data/mnist python benchmarks/bench_study.py [examples.toml] \
        [--runs-dir /tmp/bench-study] [--seeds 1] [--set train.epochs=12 ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_epoch_cost import bare_epoch  # noqa: E402

from lazyartist_cli.allocator import tune_allocator  # noqa: E402
from lazyartist_cli.config import load_config  # noqa: E402
from lazyartist_cli.pipeline.data import load_verified_split, run_make_data  # noqa: E402
from lazyartist_cli.pipeline.study import run_study  # noqa: E402


def bare_epoch_seconds(runs: Path, cfg, repeats: int) -> list[float]:
    x, y = load_verified_split(runs, cfg.data.name, "train")[0].tensors()
    return [bare_epoch(cfg.study.model, x, y, seed) for seed in range(repeats)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_file", type=Path, nargs="?", default=Path("examples.toml"))
    ap.add_argument("--runs-dir", type=Path, default=Path("/tmp/bench-study"))
    ap.add_argument("--seeds", type=int, default=None, help="study.seeds (default: the run file's)")
    ap.add_argument("--set", action="append", default=[], help="run-file overrides, e.g. train.epochs=12")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=2, help="bare epochs timed before and after (best of each)")
    ap.add_argument("--keep", action="store_true", help="reuse an existing runs dir instead of starting fresh")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args()
    allocator = tune_allocator()  # as `lazy` does: the bare epoch and the study run in the same allocator state

    over = {"device": args.device}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            over[key] = json.loads(value)
        except json.JSONDecodeError:
            over[key] = value
    if args.seeds:
        over["study.seeds"] = args.seeds
    cfg = load_config(args.run_file, over)
    runs = args.runs_dir
    if runs.exists() and not args.keep:
        shutil.rmtree(runs)
    t0 = time.perf_counter()
    run_make_data(cfg, runs)
    data_s = time.perf_counter() - t0
    before = bare_epoch_seconds(runs, cfg, args.repeats)
    t0 = time.perf_counter()
    res = run_study(cfg, runs)
    study_s = time.perf_counter() - t0 + data_s
    after = bare_epoch_seconds(runs, cfg, args.repeats)
    unit = statistics.fmean([min(before), min(after)])
    steps: dict[str, float] = {}
    for s in res["steps"]:
        steps[s["step"]] = steps.get(s["step"], 0.0) + s["seconds"]
    steps["make-data"] = steps.get("make-data", 0.0) + data_s
    out = {
        "run_file": str(args.run_file), "overrides": over, "allocator": allocator, "seeds": cfg.study.seeds, "device": args.device,
        "bare_epoch_seconds": {"before": [round(t, 3) for t in before], "after": [round(t, 3) for t in after],
                               "unit": round(unit, 3), "drift_after_over_before": round(min(after) / min(before), 3)},
        "study_seconds": round(study_s, 1), "study_units": round(study_s / unit, 1),
        "steps": {k: {"seconds": round(v, 1), "units": round(v / unit, 1)} for k, v in
                  sorted(steps.items(), key=lambda kv: -kv[1])},
        "report": res["report"],
    }
    print(json.dumps(out, indent=2))
    print(f"study: {study_s:.0f} s = {study_s / unit:.1f} bare ERM epochs of {unit:.2f} s "
          f"(before {min(before):.2f} s, after {min(after):.2f} s)")
    for k, v in out["steps"].items():
        print(f"  {k:<15} {v['seconds']:>8.1f} s {v['units']:>7.1f} units")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
