"""What a shorter training budget would have chosen, read from a finished study's per-epoch histories.

    python scripts/epoch_budget.py runs [examples.toml] [--seeds 3] [--budgets 6 8 10 12] [--json out.json]

With a constant learning rate (the study's default schedule) a run of E epochs
is exactly the first E epochs of a longer run of the same config: each epoch's
order depends on (seed, epoch) only, and nothing else reads the epoch count
(tests/test_cli_train.py: a 1-epoch run resumed to 2 epochs has the history
and weights of a 2-epoch run).
So for every run of the study and every budget E this replays the checkpoint
rule (the run's own: easy val, or recoloured val) over the first E rows of its
`history.jsonl` and prints what that checkpoint scored: easy val, recoloured
val, and the test_hard monitor (the first `train.monitor_size` hard images,
logged per epoch, never used to choose). Mean ± sample std over seeds, per
strategy. A cosine schedule
is not a prefix of a longer run (its rate depends on the total), so it cannot
be read this way (the script refuses such runs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lazyartist_cli.config import load_config  # noqa: E402
from lazyartist_cli.pipeline.plan import study_runs  # noqa: E402


def choose(history: list[dict], rule: str, budget: int) -> dict:
    """The row the rule keeps within the first ``budget`` epochs (the first best, as training does)."""
    key = "val_acc" if rule == "val" else "val_recolored_acc"
    best = None
    for row in history[:budget]:
        if best is None or row[key] > best[key]:
            best = row
    return best


def fmt(values: list[float]) -> str:
    pct = [100 * v for v in values]
    sd = f" ± {statistics.stdev(pct):.1f}" if len(pct) > 1 else ""
    return f"{statistics.fmean(pct):.1f}{sd}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs_dir", type=Path)
    ap.add_argument("run_file", type=Path, nargs="?", default=Path("examples.toml"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budgets", type=int, nargs="+", default=[6, 8, 10, 12])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if min(args.budgets) < 1:
        raise SystemExit("--budgets: every budget must be at least 1 epoch")
    cfg = load_config(args.run_file, {"study.seeds": args.seeds})
    groups: dict[str, list] = {}
    for spec in study_runs(cfg):
        label = "oracle" if spec.role == "oracle" else spec.strategy
        groups.setdefault(label, []).append(spec)
    out: dict[str, dict] = {}
    for label, specs in groups.items():
        rows_by_budget: dict[int, list[dict]] = {b: [] for b in args.budgets}
        rule, epochs = None, None
        for spec in specs:
            path = args.runs_dir / spec.name
            if not (path / "history.jsonl").is_file():
                raise SystemExit(f"{spec.name}: no history.jsonl under {args.runs_dir} (run the {args.seeds}-seed study first)")
            config = json.loads((path / "config.json").read_text())["config"]["train"]
            if config.get("schedule", "constant") != "constant":
                raise SystemExit(f"{spec.name}: schedule {config['schedule']!r} is not constant; a shorter run is not a prefix")
            history = [json.loads(line) for line in (path / "history.jsonl").read_text().splitlines() if line.strip()]
            rule = torch.load(path / "best.pt", weights_only=True, map_location="cpu")["best"]["rule"]
            epochs = len(history)
            for b in args.budgets:
                if b > len(history):
                    raise SystemExit(f"{spec.name}: budget {b} is longer than its {len(history)} epochs")
                rows_by_budget[b].append(choose(history, rule, b))
        out[label] = {"rule": rule, "epochs": epochs, "budgets": {}}
        for b, rows in rows_by_budget.items():
            out[label]["budgets"][b] = {
                "chosen_epochs": [r["epoch"] for r in rows],
                "val": [r["val_acc"] for r in rows],
                "val_recolored": [r["val_recolored_acc"] for r in rows],
                "hard_monitor": [r.get("hard_acc_monitor") for r in rows],
            }
    print(f"checkpoint each rule keeps within the first E epochs ({args.seeds} seeds, mean ± sample std, %; "
          "hard = the per-epoch test_hard monitor, never used to choose)")
    print(f"| run | rule | E | chosen epochs | easy val | recoloured val | hard (monitor) |")
    print("|---|---|---|---|---|---|---|")
    for label, d in out.items():
        for b, r in d["budgets"].items():
            hard = fmt(r["hard_monitor"]) if None not in r["hard_monitor"] else "-"
            print(f"| {label} | {d['rule']} | {b} | {'/'.join(map(str, r['chosen_epochs']))} | {fmt(r['val'])} | "
                  f"{fmt(r['val_recolored'])} | {hard} |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
