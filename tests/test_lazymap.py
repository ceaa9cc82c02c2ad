"""The laziness map: a sweep's long runs read as shorter budgets (``budgets``), and the report built on them."""

import pytest

from lazyartist_cli.errors import ConfigError
from lazyartist_cli.pipeline.sweep_file import load_sweep


@pytest.mark.parametrize("extra, needle", [
    ('"train.epochs" = 6\n"train.schedule" = "cosine"\n', "cosine schedule"),
    ('"train.epochs" = 4\n', "trains 4 epochs"),
])
def test_a_budget_must_be_a_prefix_of_the_points_own_run(tmp_path, extra, needle):
    path = tmp_path / "m.toml"
    path.write_text('name = "m"\nbudgets = [2, 6]\n[set]\n' + extra + '[axes]\nseed = [0]\n')
    with pytest.raises(ConfigError) as exc:
        load_sweep(path)
    assert needle in exc.value.problems[0]


def test_budgets_must_increase(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('name = "m"\nbudgets = [6, 2]\n[axes]\nseed = [0]\n')
    with pytest.raises(ConfigError, match="increasing"):
        load_sweep(path)
