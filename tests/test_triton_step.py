"""The Triton decoding step (minrnn/ops/triton_step.py, ``minrnn::triton_gate_step``) against the C
operator ``minrnn::gate_step`` and the layers' eager ``step``, run by Triton's interpreter on CPU
tensors (tests/conftest.py sets TRITON_INTERPRET=1); the Triton decoder is in tests/test_decode.py."""

import pytest
import torch

from minrnn.layers import MinGRU, MinLSTM
from minrnn.ops import step as C
from minrnn.ops import triton_step as TS

LAYERS = {  # every mode, each with the g() candidate (log space) and the identity (vanilla)
    f"{name}-{'g' if log_space else 'identity'}": (cls, dict(kw, log_space=log_space))
    for name, cls, kw in (("gru", MinGRU, {}), ("lstm", MinLSTM, {}), ("lstm_norm", MinLSTM, {"normalize_gates": True}))
    for log_space in (True, False)
}
H = 130  # two programs of 128 channels, the second masked


def inputs(layer, dtype, batch=3):
    x, h = torch.randn(batch, 6, dtype=dtype), torch.rand(batch, H, dtype=dtype) + 0.1
    p = torch.cat([lin(x) for lin in layer._projections], dim=-1)
    return x, h, p


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", LAYERS)
@torch.no_grad()
def test_the_triton_step_is_the_c_operator_and_the_layers_step(name, dtype):
    cls, kw = LAYERS[name]
    layer = cls(6, H, **kw).to(dtype)
    x, h, p = inputs(layer, dtype)
    out = TS.gate_step(p, h, layer._mode, layer.log_space)
    assert out.dtype == dtype and out.shape == h.shape
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(out, C.gate_step(p, h, layer._mode, layer.log_space), **tol)
    torch.testing.assert_close(out, layer.step(x, h), **tol)
    torch.testing.assert_close(torch.ops.minrnn.triton_gate_step(p, h, layer._mode, layer.log_space), out)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", ["gru-g", "lstm-identity", "lstm_norm-g"])
@torch.no_grad()
def test_half_inputs_step_a_float32_state(name, dtype):
    """Half Linear outputs in, the step in float32 (as the scan kernels): equal to the float32 step on
    the same rounded inputs, and rounded, to the half layer's step (its gates are float32 too)."""
    cls, kw = LAYERS[name]
    layer = cls(6, H, **kw).to(dtype)
    x, h, p = inputs(layer, dtype)
    out = TS.gate_step(p, h, layer._mode, layer.log_space)
    assert out.dtype == torch.float32
    ref = C.gate_step(p.float(), h.float(), layer._mode, layer.log_space)
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(out.to(dtype), layer.step(x, h))
    torch.testing.assert_close(TS.gate_step(p, h.float(), layer._mode, layer.log_space), out)  # a float32 state


@pytest.mark.parametrize("mode", ["gru", "lstm", "lstm_norm"])
def test_the_op_passes_torch_opcheck(mode):
    parts = 2 if mode == "gru" else 3
    p, h = torch.randn(4, parts * 5, dtype=torch.float64), torch.rand(4, 5, dtype=torch.float64)
    torch.library.opcheck(torch.ops.minrnn.triton_gate_step, (p, h, mode, True))
    torch.library.opcheck(torch.ops.minrnn.triton_gate_step, (p.float(), h.float(), mode, False))


def test_bad_inputs_get_one_clear_error_before_launch(monkeypatch):
    p, h = torch.randn(2, 10), torch.rand(2, 5)
    bad = {
        "mode must be one of": (p, h, "rnn"),
        r"p must be a float \(B, 3 \* H\) tensor for mode lstm": (p, h, "lstm"),
        "p must be a float": (p.long(), h, "gru"),
        r"h_prev must be a float \(2, 5\) tensor": (p, h[:, :4], "gru"),
        "h_prev must be a float": (p, h.long(), "gru"),
    }
    for message, args in bad.items():
        with pytest.raises(ValueError, match=message):
            TS.gate_step(*args, True)
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match="runs on CUDA tensors, or on CPU tensors with TRITON_INTERPRET=1"):
        TS.gate_step(p, h, "gru", True)
