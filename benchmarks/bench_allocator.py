"""What glibc's malloc thresholds cost `lazy` commands: the tuned allocator against glibc's defaults.

The allocator's state is a property of a process's history (glibc raises its
mmap threshold only after a large block is freed), so each command runs as its
own `lazy` process, the two modes alternating (default, tuned, default, ...),
best of N each: `lazy --version` (start-up alone), `lazy train` for one epoch,
and `lazy eval`, `lazy gradcam` and `lazy sae` on a 2-epoch ERM run. Tuned is
what every `lazy` process does (`allocator.tune_allocator`); default sets
LAZY_MALLOC=default. Everything lives in a scratch runs directory.

    LAZY_MNIST_DIR=../shared/data/mnist python benchmarks/bench_allocator.py [--repeats 2] [--runs-dir /tmp/bench-allocator]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

RUN = "bench-erm"


def lazy(runs: Path, mode: str, *args: str) -> float:
    env = {**os.environ, "LAZY_MALLOC": "default" if mode == "default" else "tuned"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lazyartist_cli", *args, *(["--runs-dir", str(runs), "-q"] if args[0] != "--version" else [])],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--runs-dir", type=Path, default=Path("/tmp/bench-allocator"))
    args = ap.parse_args()
    runs = args.runs_dir
    if runs.exists():
        shutil.rmtree(runs)
    lazy(runs, "tuned", "make-data")
    lazy(runs, "tuned", "train", "--set", "train.epochs=2", "--name", RUN)
    tasks = {
        "start-up (--version)": ("--version",),
        "train, 1 epoch": ("train", "--set", "train.epochs=1", "--name", "bench-one", "--force"),
        "eval": ("eval", RUN),
        "gradcam": ("gradcam", RUN),
        "sae": ("sae", RUN),
    }
    times: dict[str, dict[str, list[float]]] = {m: {t: [] for t in tasks} for m in ("default", "tuned")}
    for _ in range(args.repeats):
        for task, cmd in tasks.items():
            for mode in times:
                times[mode][task].append(lazy(runs, mode, *cmd))
    best = {m: {t: min(v) for t, v in d.items()} for m, d in times.items()}
    result = {"seconds": {m: {t: [round(s, 2) for s in v] for t, v in d.items()} for m, d in times.items()},
              "ratio_tuned_over_default": {t: round(best["tuned"][t] / best["default"][t], 3) for t in tasks}}
    print(json.dumps(result))
    for t in tasks:
        print(f"{t:<22} default {best['default'][t]:6.2f} s   tuned {best['tuned'][t]:6.2f} s   "
              f"ratio {result['ratio_tuned_over_default'][t]:.2f}   (wall of the whole command)")


if __name__ == "__main__":
    main()
