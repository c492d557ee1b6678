"""The Triton backend (minrnn/ops/triton_scan.py) against the sequential reference, run by Triton's
interpreter on CPU tensors (tests/conftest.py sets TRITON_INTERPRET=1): every variant, T from 1 to
1000, with and without h0, half precision in."""

import pytest
import torch

from minrnn.layers import MinGRU, MinLSTM
from minrnn.ops import triton_scan as TS
from minrnn.ops.reference import gate_scan, scan_sequential
from minrnn.scan import scan

LENGTHS = (1, 33)  # and 1000 below, on fewer cases: the interpreter takes ~10 ms per step of a program
VARIANTS = [(MinGRU, {}), (MinLSTM, {}), (MinLSTM, {"normalize_gates": True})]


def grads(out, inputs, g):
    return torch.autograd.grad(out, [t for t in inputs if t is not None], g)


@pytest.mark.parametrize(
    "T,with_h0,C", [(1, False, 130), (1, True, 130), (33, False, 130), (33, True, 130), (1000, True, 20)]
)
def test_linear_scan_equals_sequential_in_outputs_and_gradients(T, with_h0, C):
    B = 2 if T < 1000 else 1  # 130 channels: two channel blocks, the second partly masked
    a = torch.rand(B, T, C, dtype=torch.float64).mul(1.2).sub(0.1).requires_grad_()  # any sign
    b = torch.randn(B, T, C, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(B, C, dtype=torch.float64, requires_grad=True) if with_h0 else None
    h, ref = scan(a, b, h0, backend="triton"), scan_sequential(a, b, h0)
    g = torch.randn_like(ref)
    errors = [(h - ref).abs().max().item()]
    pairs = zip(grads(h, (a, b, h0), g), grads(ref, (a, b, h0), g), strict=True)
    errors += [(x - y).abs().max().item() for x, y in pairs]
    assert max(errors) < 1e-10, errors


IDS = ["minGRU", "minLSTM", "minLSTM-normalised"]
CASES = [
    (T, v, log, state)
    for T in LENGTHS
    for v in range(3)
    for log in (True, False)
    for state in ("zeros", "h0", "learned")
]
CASES += [(1000, v, True, "h0") for v in range(3)]


@pytest.mark.parametrize(
    "T,variant,log_space,state",
    CASES,
    ids=[f"T{c[0]}-{IDS[c[1]]}-{'log' if c[2] else 'vanilla'}-{c[3]}" for c in CASES],
)
def test_fused_layer_equals_sequential_in_outputs_and_gradients(T, variant, log_space, state):
    cls, kwargs = VARIANTS[variant]
    torch.manual_seed(T)
    B, H = (2, 20) if T < 1000 else (1, 8)
    layer = cls(6, H, log_space=log_space, init_hidden_state=state == "learned", scan="sequential", **kwargs)
    layer = layer.double()
    x = torch.randn(B, T, 6, dtype=torch.float64, requires_grad=True)
    h0 = (torch.rand(B, H, dtype=torch.float64) + 0.1).requires_grad_() if state == "h0" else None
    ref = layer(x, h0)
    layer.scan = "triton"
    out = layer(x, h0)
    g = torch.randn_like(ref)
    inputs = (x, h0, *layer.parameters())
    errors = [(out - ref).abs().max().item()]
    errors += [(u - v).abs().max().item() for u, v in zip(grads(out, inputs, g), grads(ref, inputs, g), strict=True)]
    assert max(errors) < 1e-10, errors


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("variant", range(len(VARIANTS)), ids=IDS)
def test_half_inputs_keep_a_float32_state(dtype, variant):
    """bf16/fp16 Linear outputs in, the recurrence in float32: equal to the float32 reference on the
    same rounded inputs (what autocast hands the kernel)."""
    mode = {0: "gru", 1: "lstm", 2: "lstm_norm"}[variant]
    p = torch.randn(2, 64, 3 * 24 if mode != "gru" else 2 * 24).to(dtype)
    h0 = torch.rand(2, 24) + 0.1
    h = TS.gate_scan(p, h0, mode, True)
    assert h.dtype == torch.float32
    ref = TS.gate_scan(p.float(), h0, mode, True)
    assert (h - ref).abs().max().item() < 1e-6


@pytest.mark.parametrize("mode", ["gru", "lstm", "lstm_norm"])
def test_the_bias_added_in_the_kernel_equals_the_reference_gate_scan(mode):
    P = 5 * (2 if mode == "gru" else 3)
    p = torch.randn(2, 9, P, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(P, dtype=torch.float64, requires_grad=True)
    h0 = torch.rand(2, 5, dtype=torch.float64, requires_grad=True)
    out, ref = TS.gate_scan(p, h0, mode, True, bias), gate_scan(p, h0, mode, True, bias)
    g = torch.randn_like(ref)
    for u, v in zip(grads(out, (p, bias, h0), g), grads(ref, (p, bias, h0), g), strict=True):
        torch.testing.assert_close(u, v, rtol=0, atol=1e-10)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)


def test_the_ops_pass_torch_opcheck():
    p = torch.randn(2, 7, 3 * 5, dtype=torch.float64, requires_grad=True)
    h0 = torch.rand(2, 5, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(TS.gate_scan, (p, h0, "lstm_norm", True))
    a, b = torch.rand(2, 7, 5, dtype=torch.float64, requires_grad=True), torch.randn(2, 7, 5, dtype=torch.float64)
    torch.library.opcheck(TS.linear_scan, (a, b.requires_grad_(), h0))


def test_compiled_layer_with_the_triton_backend_equals_eager():
    layer = MinGRU(8, 16, scan="triton")
    x = torch.randn(2, 40, 8, requires_grad=True)
    compiled = torch.compile(layer, fullgraph=True)
    out, ref = compiled(x), layer(x)
    g = torch.randn_like(ref)
    (gc,), (ge,) = torch.autograd.grad(out, [x], g), torch.autograd.grad(ref, [x], g)
    assert torch.allclose(out, ref, atol=1e-6) and torch.allclose(gc, ge, atol=1e-6)


def test_bad_layouts_are_refused_before_launch():
    with pytest.raises(ValueError, match="T >= 1"):
        TS.gate_scan(torch.randn(2, 0, 10), None, "gru", True)
    with pytest.raises(ValueError, match="not 3 x H"):
        TS.gate_scan(torch.randn(2, 4, 10), None, "lstm", True)
    with pytest.raises(ValueError, match="h0 must be"):
        TS.linear_scan(torch.rand(2, 4, 5), torch.rand(2, 4, 5), torch.rand(3, 5))
