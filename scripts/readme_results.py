"""Copy the headline numbers and the strategy table of a `lazy report` into the README.

    python scripts/readme_results.py runs/report/REPORT.md README.md "lazy study examples.toml --seeds 3" \
        ["bash scripts/controls.sh runs"]

Replaces the block between ``<!-- results:begin -->`` and ``<!-- results:end -->``
with the report's "Headline numbers" list and its section-5 table, preceded by
the command that produced the report, so that no number in the README is typed
by hand. The report also holds runs beyond the study (its *extra* rows, e.g. the
matched-learning-rate controls); the optional fourth argument names the command
that made them, and the block says which rows come from which command.
"""

import re
import sys
from pathlib import Path

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def section(text: str, title_prefix: str) -> str:
    m = re.search(rf"^## {re.escape(title_prefix)}.*?$(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    if not m:
        raise SystemExit(f"section {title_prefix!r} not found in the report")
    return m.group(1)


def has_extra_rows(table_lines: list[str]) -> bool:
    """Whether the strategy table holds rows whose role (second column) is extra: runs beyond the study."""
    return any(len(cells := [c.strip() for c in line.strip("|").split("|")]) > 1 and cells[1].startswith("extra")
               for line in table_lines[2:])


def provenance(report: Path, command: str, extra_command: "str | None", extra_rows: bool) -> list[str]:
    """The block's first lines: which command made which rows, and how the block was made."""
    args = f'{report} README.md "{command}"' + (f' "{extra_command}"' if extra_command else "")
    lines = [f"Produced by `{command}`"
             + (f" and, for the rows marked *extra*, `{extra_command}` on the same runs directory" if extra_rows and extra_command else "")
             + f" (then `python scripts/readme_results.py {args}`); copied from the generated report, not typed by hand."]
    if extra_rows:
        lines.append("The *baseline*, *robust* and *oracle* rows are the study's; the rows marked *extra* are other evaluated runs "
                     "found in the same runs directory" + (", not the study's claims." if extra_command else
                                                           ", not made by that command and not the study's claims."))
    return lines


def main() -> None:
    if len(sys.argv) not in (4, 5):
        raise SystemExit(__doc__)
    report, readme, command = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    extra_command = sys.argv[4] if len(sys.argv) == 5 else None
    text = report.read_text()
    summary = section(text, "1. ")
    headline = summary[summary.index("**Headline numbers:**"):]
    headline = headline.split("**Shortcut suite")[0].strip()  # the suite has its own block (scripts/readme_suite.py)
    robust = section(text, "5. ")
    lines = robust.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table_lines = lines_while(lines[first:], "|")  # the strategy table only (section 5 also holds the frontier's)
    table = "\n".join(table_lines)
    block = "\n".join([
        BEGIN,
        *provenance(report, command, extra_command, has_extra_rows(table_lines)),
        "",
        headline,
        "",
        table,
        END,
    ])
    replace_block(readme, BEGIN, END, block)
    print(f"{readme}: results block replaced from {report}")


def lines_while(lines: list[str], prefix: str) -> list[str]:
    """The leading lines that start with ``prefix`` (a Markdown table's rows, a list's items)."""
    out = []
    for line in lines:
        if not line.startswith(prefix):
            break
        out.append(line)
    return out


def replace_block(readme: Path, begin: str, end: str, block: str) -> None:
    """Put ``block`` (which starts with ``begin`` and ends with ``end``) in place of the README's block."""
    body = readme.read_text()
    if begin not in body or end not in body:
        raise SystemExit(f"{readme} has no {begin} ... {end} block")
    start, stop = body.index(begin), body.index(end) + len(end)
    readme.write_text(body[:start] + block + body[stop:])


if __name__ == "__main__":
    main()
