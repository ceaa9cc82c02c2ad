"""Copy one sweep's table from a `lazy report` into the README.

    python scripts/readme_sweep.py runs/report/REPORT.md README.md lffrepro "lazy sweep lff-repro.toml --executor process --workers 2"

Replaces the block between ``<!-- sweep:NAME:begin -->`` and ``<!-- sweep:NAME:end -->`` with the first table of
the report's ``### Sweep `NAME` `` subsection (mean ± std over seeds per point) or, where the sweep file names
published numbers (``[reference]``), the comparison with them, preceded by the command that produced the runs, so
that no number in the README is typed by hand.
"""

import sys
from pathlib import Path

from readme_results import lines_while, replace_block  # the same block replacement (scripts/ is on the path when run)


REFERENCE = "Against the published numbers"


def sweep_table(text: str, name: str) -> list[str]:
    """The first Markdown table under the report's heading for sweep ``name``; where the sweep file names
    published numbers, the sentence and table that compare the points with them instead (the report keeps both)."""
    heading = f"### Sweep `{name}`"
    if heading not in text:
        raise SystemExit(f"no sweep {name!r} in the report (run it, then `lazy report`)")
    lines = text[text.index(heading):].splitlines()
    end = next((i for i, line in enumerate(lines[1:], 1) if line.startswith("#")), len(lines))
    lines = lines[:end]  # this sweep's subsection only
    first = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if first is None:
        raise SystemExit(f"sweep {name!r} has no table in the report")
    ref = next((i for i, line in enumerate(lines) if line.startswith(REFERENCE)), None)
    if ref is None:
        return lines_while(lines[first:], "|")
    table = next((i for i, line in enumerate(lines[ref:], ref) if line.startswith("|")), None)
    if table is None:
        raise SystemExit(f"sweep {name!r}: the comparison with published numbers has no table in the report")
    return [lines[ref], "", *lines_while(lines[table:], "|")]


def main() -> None:
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    report, readme, name, command = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    begin, end = f"<!-- sweep:{name}:begin -->", f"<!-- sweep:{name}:end -->"
    block = "\n".join([begin, f"Produced by `{command}` and `lazy report` (then `python scripts/readme_sweep.py {report} "
                              f"README.md {name} \"{command}\"`); copied from the generated report, not typed by hand.", "",
                       *sweep_table(report.read_text(), name), end])
    replace_block(readme, begin, end, block)
    print(f"{readme}: sweep {name} block replaced from {report}")


if __name__ == "__main__":
    main()
