import pytest
import torch

from lazyartist_cli.config import load_config
from lazyartist_cli.pipeline.common import predict
from lazyartist_cli.precision import autocast, memory_format, native_bf16, resolve_precision
from lazyartist_cli.strategies import get_strategy

CPU = torch.device("cpu")


def test_auto_precision_follows_the_device_and_keeps_input_gradient_strategies_fp32():
    assert resolve_precision("fp32", CPU) == "fp32"
    assert resolve_precision("bf16", CPU) == "bf16"
    assert resolve_precision("auto", CPU) == ("bf16" if native_bf16(CPU) else "fp32")
    assert resolve_precision("auto", CPU, input_gradients=True) == "fp32"
    assert resolve_precision("bf16", CPU, input_gradients=True) == "bf16"  # asked for: obeyed
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("fp16", CPU)
    assert get_strategy("input-gradient").input_gradients and get_strategy("consistency-input-gradient").input_gradients
    assert not get_strategy("consistency").input_gradients and not get_strategy("erm").input_gradients


def test_precision_is_a_checked_train_option():
    assert load_config(None, {}).train.precision == "auto"
    with pytest.raises(Exception, match="precision"):
        load_config(None, {"train.precision": "fp16"})


def test_bf16_autocast_runs_matrix_products_in_bf16_and_nothing_outside():
    lin = torch.nn.Linear(4, 3)
    x = torch.randn(2, 4)
    with autocast("bf16", CPU):
        assert lin(x).dtype == torch.bfloat16
    with autocast("fp32", CPU):
        assert lin(x).dtype == torch.float32
    assert lin(x).dtype == torch.float32
    assert memory_format("bf16", CPU) == torch.channels_last
    assert memory_format("fp32", CPU) == torch.contiguous_format
    assert memory_format("bf16", torch.device("cuda")) == torch.contiguous_format


def test_predict_returns_fp32_logits_without_a_graph_under_bf16():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5))
    x = torch.randn(7, 3, 2, 2)
    ref = predict(model, x, batch_size=3)
    assert ref.dtype == torch.float32 and not ref.requires_grad and model.training
    with autocast("bf16", CPU):
        low = predict(model, x, batch_size=3)
    assert low.dtype == torch.float32
    assert torch.allclose(low, ref, atol=0.05) and not torch.equal(low, ref)  # bf16 rounding, nothing else


def test_cpu_bf16_is_native_only_with_the_bf16_instructions(monkeypatch):
    import lazyartist_cli.precision as precision

    monkeypatch.setattr(precision, "_cpu_flags", lambda: {"avx512f", "avx512bw"})  # AVX-512 without bf16: emulated
    assert not precision.native_bf16(CPU) and resolve_precision("auto", CPU) == "fp32"
    monkeypatch.setattr(precision, "_cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert precision.native_bf16(CPU) == torch.backends.mkldnn.is_available()
