"""Markdown tables (mean +- std over seeds) from `lazy eval --json` and `lazy counterfactual --json` output.

    python scripts/results_table.py runs/eval-all.json runs/counterfactual-all.json
"""

import json
import re
import statistics
import sys
from collections import defaultdict


def fmt(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * statistics.mean(values):.1f} ± {100 * statistics.stdev(values):.1f}"


def main() -> None:
    ev = json.load(open(sys.argv[1]))["runs"]
    cf = json.load(open(sys.argv[2]))["runs"] if len(sys.argv) > 2 else {}
    groups: dict[str, list[str]] = defaultdict(list)
    for name in ev:
        groups[re.sub(r"-s\d+$", "", name)].append(name)
    print("| model / strategy | seeds | Easy train | Easy val | Easy test | Hard test | follows new colour (counterfactual) |")
    print("|---|---|---|---|---|---|---|")
    for group, names in groups.items():
        cols = [fmt([ev[n][s] for n in names]) for s in ("train", "val", "test_easy", "test_hard")]
        follow = fmt([cf[n]["follows_new_color"] for n in names]) if all(n in cf for n in names) else "-"
        print(f"| {group} | {len(names)} | " + " | ".join(cols) + f" | {follow} |")


if __name__ == "__main__":
    main()
