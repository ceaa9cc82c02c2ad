"""Every generated block of README.md and docs/*.md is what the report's code renders from the committed results
(results/), byte for byte: a number in the README or docs is never typed by hand, and never outlives its runs."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_readme_and_docs_block_is_regenerated_identically_from_the_committed_results():
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_blocks.py"), "--check"], capture_output=True,
                         text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_committed_results_hold_no_checkpoint_split_or_figure():
    files = [p for p in (ROOT / "results").rglob("*") if p.is_file()]
    assert files, "results/ is empty: `lazy export results/runs` after the study"
    assert not [p for p in files if p.suffix in (".pt", ".png", ".csv", ".npz")]
    assert sum(p.stat().st_size for p in files) < 20e6
