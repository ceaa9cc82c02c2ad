"""Copy the shortcut suite's best-per-knowledge-class lines from a `lazy report` into the README.

    python scripts/readme_suite.py runs/report/REPORT.md README.md "lazy sweep suite.toml --executor process --workers 2"

Replaces the block between ``<!-- suite:begin -->`` and ``<!-- suite:end -->`` with the "Best method per
knowledge class and protocol" list of the report's suite (section 5, the sweep whose points vary
``data.protocol``; its full table, with CIs, stays in the report), preceded by the command that produced
the runs, so that no number in the README is typed by hand.
"""

import sys
from pathlib import Path

from readme_results import lines_while, replace_block  # the same block replacement (scripts/ is on the path when run)

BEGIN, END = "<!-- suite:begin -->", "<!-- suite:end -->"
MARK = "**The shortcut suite.**"
BEST = "**Best method per knowledge class and protocol**"


def suite_block(text: str) -> list[str]:
    """The suite's best-per-class list, as report lines."""
    if MARK not in text:
        raise SystemExit("no shortcut suite in the report (run the sweep, then `lazy report`)")
    lines = text[text.index(MARK):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(BEST))
    return [lines[start], "", *lines_while(lines[start + 2:], "- ")]


def main() -> None:
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    report, readme, command = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    block = "\n".join([BEGIN, f"Produced by `{command}` and `lazy report` (then `python scripts/readme_suite.py {report} "
                              f"README.md \"{command}\"`); copied from the generated report, not typed by hand.", "",
                       *suite_block(report.read_text()), END])
    replace_block(readme, BEGIN, END, block)
    print(f"{readme}: suite block replaced from {report}")


if __name__ == "__main__":
    main()
