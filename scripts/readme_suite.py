"""Copy the shortcut suite's best-per-knowledge-class lines from a `lazy report` into the README.

    python scripts/readme_suite.py runs/report/REPORT.md README.md "lazy sweep suite.toml --executor process --workers 2"
    python scripts/readme_suite.py runs/report/REPORT.md README.md "lazy sweep suite-1pct.toml ..." suite1pct [NAME...]

Replaces the block between ``<!-- suite:begin -->`` and ``<!-- suite:end -->`` (with sweep names, between
``<!-- suite:NAME+NAME:begin -->`` and ``<!-- suite:NAME+NAME:end -->``) with the "Best method per knowledge class
and protocol" list of a suite in the report (section 5, a sweep whose points vary ``data.protocol``: the first one,
or each named sweep in turn, its lines marked with its name; the full tables, with CIs, stay in the report),
preceded by the command that produced the runs, so that no number in the README is typed by hand.
"""

import sys
from pathlib import Path

from readme_results import lines_while, replace_block  # the same block replacement (scripts/ is on the path when run)

BEGIN, END = "<!-- suite:begin -->", "<!-- suite:end -->"
MARK = "**The shortcut suite.**"
BEST = "**Best method per knowledge class and protocol**"


def suite_block(text: str, sweep: str = "") -> list[str]:
    """The best-per-class list of the first suite in the report, or of the sweep ``sweep``, as report lines."""
    if sweep:
        head = f"### Sweep `{sweep}`"
        if head not in text:
            raise SystemExit(f"no sweep {sweep!r} in the report (run it, then `lazy report`)")
        text = text[text.index(head) + len(head):]
        text = text[:text.index("\n### ")] if "\n### " in text else text
    if MARK not in text:
        raise SystemExit("no shortcut suite in the report (run the sweep, then `lazy report`)")
    lines = text[text.index(MARK):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(BEST))
    return [lines[start], "", *lines_while(lines[start + 2:], "- ")]


def main() -> None:
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    report, readme, command, sweeps = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4:]
    key = "+".join(sweeps)
    begin, end = (f"<!-- suite:{key}:begin -->", f"<!-- suite:{key}:end -->") if sweeps else (BEGIN, END)
    text = report.read_text()
    if sweeps:
        parts = [suite_block(text, name) for name in sweeps]
        body = [parts[0][0], "", *[line.replace("- ", f"- `{name}`, ", 1) for name, part in zip(sweeps, parts)
                                   for line in part[2:]]]
    else:
        body = suite_block(text)
    block = "\n".join([begin, f"Produced by `{command}` and `lazy report` (then `python scripts/readme_suite.py {report} "
                              f"README.md \"{command}\"{''.join(' ' + n for n in sweeps)}`); copied from the generated "
                              "report, not typed by hand.", "", *body, end])
    replace_block(readme, begin, end, block)
    print(f"{readme}: suite block replaced from {report}")


if __name__ == "__main__":
    main()
