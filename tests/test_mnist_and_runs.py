import gzip

import numpy as np
import pytest

from lazyartist_cli.data.mnist import MNIST_FILES, load_base, parse_idx
from lazyartist_cli.errors import LazyError, UsageError
from lazyartist_cli.runs import atomic_path, check_name, staging_dir


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def test_parse_idx_roundtrip_and_truncation():
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(parse_idx(idx_bytes(arr)), arr)
    with pytest.raises(LazyError, match="truncated"):
        parse_idx(idx_bytes(arr)[:-1])


def test_wrong_file_names_the_file_and_the_expected_hash(tmp_path):
    for stem in MNIST_FILES:
        (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((2, 2), np.uint8))))
    with pytest.raises(LazyError) as exc:
        load_base("mnist", tmp_path, cache_dir=tmp_path / "cache", download=False)
    msg = str(exc.value)
    assert "train-images-idx3-ubyte.gz" in msg and MNIST_FILES["train-images-idx3-ubyte"] in msg


def test_nothing_found_says_the_three_ways(tmp_path):
    with pytest.raises(LazyError) as exc:
        load_base("mnist", tmp_path / "none", cache_dir=tmp_path / "cache", download=False)
    msg = str(exc.value)
    assert "--mnist-dir" in msg and "cache" in msg and "internet" in msg


def test_real_mnist_loads_from_raw_or_gzip(mnist_dir, tmp_path):
    raw = load_base("mnist", mnist_dir, download=False)
    assert raw.train_images.shape == (60_000, 28, 28) and raw.test_labels.shape == (10_000,)
    assert np.bincount(raw.train_labels).tolist()[:2] == [5923, 6742]


@pytest.mark.parametrize("bad", ["../x", "a/b", ".hidden", "", "datasets", "x" * 101, "a\\b"])
def test_hostile_names_rejected(bad):
    with pytest.raises(UsageError):
        check_name(bad)


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]


def test_staging_dir_replaces_only_when_complete(tmp_path):
    final = tmp_path / "ds"
    final.mkdir()
    (final / "a").write_text("old")
    with pytest.raises(RuntimeError):
        with staging_dir(final) as tmp:
            (tmp / "a").write_text("new")
            raise RuntimeError
    assert (final / "a").read_text() == "old"
    with staging_dir(final) as tmp:
        (tmp / "a").write_text("new")
    assert (final / "a").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_json_files_carry_a_schema_version_and_old_spellings_are_upgraded(tmp_path):
    from lazyartist_cli.runs import SCHEMA_VERSION, read_json, upgrade, write_json_atomic

    write_json_atomic(tmp_path / "a.json", {"units": [{"colorness": 0.5}]})
    doc = read_json(tmp_path / "a.json", "doc")
    assert next(iter(doc)) == "schema_version" and doc["schema_version"] == SCHEMA_VERSION
    old = {"features": [{"colour_purity": 0.9, "top_colour": "red", "label": "colour"}], "units": [{"colourness": 0.2}]}
    new = upgrade(old)
    assert new["features"] == [{"color_purity": 0.9, "top_color": "red", "label": "colour"}]  # keys renamed, values kept
    assert new["units"] == [{"colorness": 0.2}] and new["schema_version"] == SCHEMA_VERSION
    assert upgrade(new) == new


def test_result_problems_names_missing_unknown_and_mistyped_keys():
    from lazyartist_cli.results import AttackSummary, CounterfactualSummary, result_problems

    doc = {"run": "r", "n_images": 3, "n_recolored": 2.5, "follows_new_color": 1, "keeps_true_label": 0.0, "other": 0.0,
           "per_color": {}, "paths": {}, "extra": 1, "schema_version": 1}
    assert result_problems(CounterfactualSummary, doc) == [
        "missing key 'mean_confidence'", "unknown key 'extra'", "'n_recolored' is float, not int"]  # an int is a float
    pairs_only = {"run": "r", "split": "test_easy", "eps": 0.05, "methods": {}, "sweep": None, "paths": {}, "pairs": {}}
    assert result_problems(AttackSummary, pairs_only) == []  # the headline-pair keys are optional


def test_the_cache_is_lazy_cache_dir_else_xdg_cache_home_else_the_home_cache(monkeypatch, tmp_path):
    """The order docs/dataset.md states: $LAZY_CACHE_DIR, else $XDG_CACHE_HOME/lazyartist, else ~/.cache/lazyartist."""
    from lazyartist_cli.data.mnist import default_cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAZY_CACHE_DIR", str(tmp_path / "lazy"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "lazy"
    monkeypatch.setenv("LAZY_CACHE_DIR", "")  # set but empty: not a directory
    assert default_cache_dir() == tmp_path / "xdg" / "lazyartist"
    monkeypatch.delenv("LAZY_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "lazyartist"
