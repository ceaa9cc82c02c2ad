import pytest

from lazyartist_cli.config import load_config, parse_set
from lazyartist_cli.errors import ConfigError, UsageError


def problems(tmp_path, text):
    p = tmp_path / "run.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    return exc.value.problems


def test_defaults_are_the_prd_ones():
    cfg = load_config()
    assert cfg.data.correlation == 0.95
    assert (cfg.data.n_train, cfg.data.n_val, cfg.data.n_test) == (50_000, 10_000, 10_000)
    assert cfg.data.palette[:3] == ["red", "green", "blue"]


def test_correlation_out_of_range_names_the_field(tmp_path):
    assert problems(tmp_path, "[data]\ncorrelation = 1.5\n") == ["data.correlation: must be <= 1"]


def test_unknown_key_is_rejected(tmp_path):
    assert problems(tmp_path, "[data]\ncorelation = 0.9\n") == ["data.corelation: unknown key"]


def test_several_problems_one_line_each(tmp_path):
    out = problems(tmp_path, "seed = -1\n[data]\ncorrelation = -0.1\n")
    assert len(out) == 2 and out[0].startswith("seed:") and out[1].startswith("data.correlation:")


def test_malformed_toml(tmp_path):
    out = problems(tmp_path, "[data\n")
    assert len(out) == 1 and "malformed TOML" in out[0]


def test_palette_unknown_and_duplicate(tmp_path):
    base = ["red", "green", "blue", "yellow", "magenta", "cyan", "orange", "purple", "pink"]
    out = problems(tmp_path, f"[data]\npalette = {base + ['chartreuse']}\n")
    assert "unknown colour name" in out[0] and "chartreuse" in out[0]
    out = problems(tmp_path, f"[data]\npalette = {base + ['red']}\n")
    assert "duplicate colour" in out[0]


def test_custom_colour_and_same_rgb(tmp_path):
    base = ["red", "green", "blue", "yellow", "magenta", "cyan", "orange", "purple", "pink"]
    p = tmp_path / "ok.toml"
    p.write_text(f"[data]\npalette = {base + ['mine']}\n[data.colors]\nmine = [1, 2, 3]\n")
    assert load_config(p).data.palette_rgb()[-1] == (1, 2, 3)
    out = problems(tmp_path, f"[data]\npalette = {base + ['mine']}\n[data.colors]\nmine = [230, 25, 25]\n")
    assert "same RGB" in out[0]


def test_sizes_larger_than_mnist(tmp_path):
    out = problems(tmp_path, "[data]\nn_train = 55000\nn_val = 10000\n")
    assert "60,000" in out[0]
    assert problems(tmp_path, "[data]\nn_test = 20000\n") == ["data.n_test: must be <= 10000"]


def test_precedence_defaults_file_cli(tmp_path):
    p = tmp_path / "run.toml"
    p.write_text("seed = 3\n[data]\ncorrelation = 0.9\n")
    cfg = load_config(p, {"data.correlation": 0.8})
    assert cfg.seed == 3 and cfg.data.correlation == 0.8


def test_parse_set():
    assert parse_set("data.correlation=0.9") == ("data.correlation", 0.9)
    assert parse_set("data.name=abc") == ("data.name", "abc")
    with pytest.raises(UsageError):
        parse_set("nothing")


def test_run_file_with_a_byte_order_mark_is_read(tmp_path):
    from lazyartist_cli.config import load_config

    p = tmp_path / "bom.toml"
    p.write_bytes("\ufeff[train]\nepochs = 3\n".encode("utf-8"))
    assert load_config(p).train.epochs == 3


def test_failed_device_leaves_no_empty_run(tmp_path, monkeypatch):
    import pytest
    import torch

    from lazyartist_cli.config import load_config
    from lazyartist_cli.errors import LazyError
    from lazyartist_cli.pipeline.train import run_train

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(LazyError):
        run_train(load_config(None, {"device": "cuda", "train.name": "gpu-run"}), tmp_path)
    assert not (tmp_path / "gpu-run").exists()


def test_fashion_mnist_has_the_same_60000_limit():
    import pytest

    from lazyartist_cli.config import load_config
    from lazyartist_cli.errors import UsageError

    with pytest.raises(UsageError, match="60,000 fashion-mnist"):
        load_config(None, {"data.base": "fashion-mnist", "data.n_train": 55_000, "data.n_val": 10_000})


def test_one_batch_size_default_everywhere():
    """config.BATCH (the run file's defaults) and models.INFERENCE_BATCH (the method packages') agree."""
    from lazyartist_cli.attacks.base import Attack
    from lazyartist_cli.config import BATCH, RunConfig
    from lazyartist_cli.models import INFERENCE_BATCH

    cfg = RunConfig()
    assert BATCH == INFERENCE_BATCH == Attack.batch_size
    assert {cfg.train.batch_size, cfg.train.eval_batch_size, cfg.eval.batch_size, cfg.gradcam.batch_size,
            cfg.attack.batch_size} == {BATCH}
