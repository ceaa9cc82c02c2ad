"""The Python floor the package claims is the one it runs on: pyproject, README and the code agree."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _floor() -> tuple[int, int]:
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    m = re.fullmatch(r">=\s*(\d+)\.(\d+)", spec)
    assert m, f"requires-python {spec!r} is not a plain floor"
    return int(m.group(1)), int(m.group(2))


def test_the_interpreter_running_the_tests_is_the_claimed_floor_or_newer():
    assert sys.version_info[:2] >= _floor()


def test_readme_states_the_same_floor():
    major, minor = _floor()
    text = (ROOT / "README.md").read_text()
    claimed = set(re.findall(r"Python >= (\d+\.\d+)", text))
    assert claimed == {f"{major}.{minor}"}, claimed


def test_no_dependency_or_fallback_for_a_python_below_the_floor():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if "python_version" in d]
    for path in (ROOT / "lazyartist_cli").rglob("*.py"):
        text = path.read_text()
        assert "tomli " not in text and "typing_extensions" not in text, path


def test_lazy_help_runs_on_this_interpreter():
    out = subprocess.run([sys.executable, "-m", "lazyartist_cli", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "study" in out.stdout and "report" in out.stdout
