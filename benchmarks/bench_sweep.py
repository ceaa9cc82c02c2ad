"""Points per hour of a 16-point sweep under `--executor local`, `process` and `ray`, with CPU utilisation.

The sweep: 4 strategies x 4 seeds of a small configuration (3,000 training images, 2 epochs), each executor
on a fresh runs directory holding the same prebuilt dataset, one after another in this process's children.
Threads per point are left at the default (cores / workers), as a user would run it. CPU utilisation is the
machine's busy share over the run, from /proc/stat (Ray's workers are not children of the command, so
their CPU time does not show in its rusage); nothing else should run meanwhile.

    LAZY_MNIST_DIR=../shared/data/mnist python benchmarks/bench_sweep.py [--workers 2] [--executors local,process,ray]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SWEEP = """
name = "bench"
[set]
"data.n_train" = 3000
"data.n_val" = 1000
"data.n_test" = 1000
"train.epochs" = 2
"train.lr" = 0.004
[axes]
"train.strategy" = ["erm", "consistency", "spectral-decoupling", "group-dro"]
seed = [0, 1, 2, 3]
"""


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def lazy(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "lazyartist_cli", *args, "-q"], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--executors", default="local,process,ray")
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sweep = tmp / "bench.toml"
        sweep.write_text(SWEEP)
        seed_runs = tmp / "seed-runs"
        lazy("make-data", "--runs-dir", str(seed_runs), "--set", "data.n_train=3000", "--set", "data.n_val=1000",
             "--set", "data.n_test=1000")
        rows = []
        for ex in args.executors.split(","):
            runs = tmp / f"runs-{ex}"
            runs.mkdir()
            shutil.copytree(seed_runs / "datasets", runs / "datasets")
            busy0, total0 = cpu_times()
            t0 = time.perf_counter()
            workers = "1" if ex == "local" else str(args.workers)
            lazy("sweep", str(sweep), "--runs-dir", str(runs), "--executor", ex, "--workers", workers)
            wall = time.perf_counter() - t0
            busy1, total1 = cpu_times()
            res = json.loads((runs / "sweeps" / "bench" / "results.json").read_text())
            rows.append({"executor": ex, "workers": int(workers), "threads_per_point": res["threads"], "points": len(res["points"]),
                         "ok": res["ok"], "wall_s": round(wall, 1), "points_per_hour": round(3600 * len(res["points"]) / wall),
                         "cpu_utilisation": round((busy1 - busy0) / max(total1 - total0, 1), 2)})
            print(json.dumps(rows[-1]), flush=True)
        base = next((r for r in rows if r["executor"] == "local"), None)
        if base:
            for r in rows:
                r["speed_up_vs_local"] = round(base["wall_s"] / r["wall_s"], 2)
        print(json.dumps({"cores": cores, "rows": rows}))


if __name__ == "__main__":
    main()
