"""What a shorter training budget would have chosen, read from a finished study's per-epoch histories.

    python scripts/epoch_budget.py runs [examples.toml] [--seeds 3] [--budgets 6 8 10 12] [--json out.json]

With a constant learning rate (the study's default schedule) a run of E epochs
is exactly the first E epochs of a longer run of the same config: each epoch's
order depends on (seed, epoch) only, and nothing else reads the epoch count
(tests/test_cli_train.py: a 1-epoch run resumed to 2 epochs has the history
and weights of a 2-epoch run).
So for every run of the study and every budget E this replays the run's own
checkpoint rule (the `train.select` its config.json stores: `val`,
`val-recolored`, `val-worst-group`, `val-pseudo-group` or `last`) over the
first E rows of its `history.jsonl`, as training chose: the highest score of
the rule among the epochs the strategy lets be chosen (not JTT's or uLA's
first stage), a tie to the higher easy val, a full tie to the earlier epoch
(`pipeline/selection.py: replay_choice`). It prints what that checkpoint
scored: easy val, recoloured val, and the test_hard monitor (the first
`train.monitor_size` hard images, logged per epoch, never used to choose).
Mean ± sample std over seeds, per strategy.

The script refuses a run (one line naming it) rather than guess: a cosine
schedule (not a prefix of a longer run: its rate depends on the total), a
history without its rule's score in an epoch that could be chosen (e.g. a run
stored before the history logged that score), a budget with no epoch to
choose, or a replay of the whole history that does not give the epoch its
best.pt holds.
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
from lazyartist_cli.pipeline.selection import replay_choice  # noqa: E402
from lazyartist_cli.strategies import get_strategy  # noqa: E402


def replay_run(path: Path, budgets: list[int]) -> tuple[str, dict[int, dict]]:
    """(the run's rule, {budget: the history row its rule keeps within the first ``budget`` epochs}); SystemExit
    with one line naming the run when the choice cannot be replayed."""
    name = path.name
    if not (path / "history.jsonl").is_file():
        raise SystemExit(f"{name}: no history.jsonl under {path.parent} (run the study first)")
    config = json.loads((path / "config.json").read_text())["config"]
    train = config["train"]
    if train.get("schedule", "constant") != "constant":
        raise SystemExit(f"{name}: schedule {train['schedule']!r} is not constant; a shorter run is not a prefix")
    rule = train["select"]  # the rule in force (auto resolved when the run was trained)
    strategy = get_strategy(train["strategy"])
    options = strategy.Config.model_validate(config.get("strategy", {}).get(train["strategy"], {}))
    history = [json.loads(line) for line in (path / "history.jsonl").read_text().splitlines() if line.strip()]

    def choose(rows: list[dict]) -> dict:
        try:
            row = replay_choice(rows, rule, lambda epoch: strategy.selectable_epoch(options, epoch))
        except ValueError as exc:
            raise SystemExit(f"{name}: {exc}") from None
        if row is None:
            raise SystemExit(f"{name}: no epoch among the first {len(rows)} may be chosen ({train['strategy']}'s first "
                             "stage); give a longer budget")
        return row

    kept = torch.load(path / "best.pt", weights_only=True, map_location="cpu")["best"]
    whole = choose(history)
    if kept.get("rule", rule) != rule or int(kept["epoch"]) != int(whole["epoch"]):
        raise SystemExit(f"{name}: replaying rule {rule} over its history keeps epoch {whole['epoch']}, but best.pt holds "
                         f"epoch {kept['epoch']} (rule {kept.get('rule')}): the history does not replay its choice")
    out = {}
    for b in budgets:
        if b > len(history):
            raise SystemExit(f"{name}: budget {b} is longer than its {len(history)} epochs")
        out[b] = choose(history[:b])
    return rule, out


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
            rule, chosen = replay_run(path, args.budgets)
            epochs = sum(1 for line in (path / "history.jsonl").read_text().splitlines() if line.strip())
            for b, row in chosen.items():
                rows_by_budget[b].append(row)
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
