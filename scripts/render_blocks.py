"""Rewrite the generated blocks of README.md and docs/*.md from the committed results folder.

    python scripts/render_blocks.py            # rewrite every block that differs
    python scripts/render_blocks.py --check    # change nothing; exit 1 naming the blocks that differ

Each block (between ``<!-- lazy:NAME -->`` and ``<!-- /lazy:NAME -->``) is rendered by the report's own
functions from the committed folders under ``results/`` (``lazy export`` writes them from a runs directory), so no number in the
README or docs is typed by hand. ``tests/test_blocks.py`` runs the check in CI.
"""

import argparse
import sys
from pathlib import Path

from lazyartist_cli.pipeline.report.blocks import Source, block_names, refresh_file
from lazyartist_cli.pipeline.report.lazymap import figure_from_results

ROOT = Path(__file__).resolve().parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FIGURES = {"lazymap": "laziness-map.png"}  # sweep -> the figure of it under docs/img (the README shows it)


def sources(results: Path) -> dict[str, Source]:
    """Each committed results folder: ``results/runs`` (the study and the sweeps, from ``runs/``) and
    ``results/quickstart`` (the first run, from ``runs/quickstart``)."""
    return {
        "": Source(results / "runs", ROOT / "examples.toml", "results/runs", "lazy study examples.toml --seeds 3"),
        "quickstart": Source(results / "quickstart", ROOT / "quickstart.toml", "results/quickstart",
                             "lazy study quickstart.toml --runs-dir runs/quickstart", runs_dir="runs/quickstart"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a block differs")
    ap.add_argument("--results", type=Path, default=ROOT / "results", help="the results folders' parent (default: results/)")
    args = ap.parse_args()
    stale = []
    for path in FILES:
        if not block_names(path):
            continue
        changed = refresh_file(path, sources(args.results), check=args.check)
        stale += [f"{path.relative_to(ROOT)}: {name}" for name in changed]
    for sweep, image in FIGURES.items():  # figures drawn from the same results (a PNG is not compared byte for byte)
        out = ROOT / "docs" / "img" / image
        has = (args.results / "runs" / "sweeps" / sweep / "results.json").is_file()
        if args.check:
            if has and not out.is_file():
                stale.append(f"docs/img/{image} (sweep {sweep}'s figure)")
        elif has:
            figure_from_results(args.results / "runs", sweep, out)
    verb = "differs" if args.check else "rewritten"
    for line in stale:
        print(f"{line} {verb}")
    if args.check and stale:
        print("run `python scripts/render_blocks.py` to regenerate them from the results folder", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
