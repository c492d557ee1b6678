"""The chunked Triton scan (minrnn/ops/triton_chunked.py) against the sequential reference, under Triton's
interpreter (tests/conftest.py): outputs, final state and gradients for a, b and h0, with resets, in
float32 and float64 (gradcheck), across chunk boundaries; and its choice by shape."""

import pytest
import torch

from minrnn.ops import triton_chunked as TC
from minrnn.ops.reference import scan_sequential
from minrnn.resets import reset_coefficients
from minrnn.scan import scan


@pytest.mark.parametrize("T,C,with_h0", [(1, 5, True), (16, 3, False), (37, 130, True), (100, 20, True)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_chunked_scan_equals_sequential_with_h0_resets_and_gradients(T, C, with_h0, dtype):
    """37 steps in chunks of 16: two full chunks and a partial one; 130 channels: a masked second block."""
    B = 2
    a = torch.rand(B, T, C, dtype=dtype).mul(1.8).sub(0.9)  # any sign
    b = torch.randn(B, T, C, dtype=dtype)
    resets = torch.rand(B, T) < 0.1
    a, b = reset_coefficients(a, b, resets)  # a_t = 0 where a sequence starts
    a, b = a.requires_grad_(), b.requires_grad_()
    h0 = torch.randn(B, C, dtype=dtype, requires_grad=True) if with_h0 else None
    h, ref = TC.chunked_scan(a, b, h0), scan_sequential(a, b, h0)
    assert h.dtype == dtype
    g = torch.randn_like(ref)
    inputs = [t for t in (a, b, h0) if t is not None]
    got, want = torch.autograd.grad(h, inputs, g), torch.autograd.grad(ref, inputs, g)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert (h - ref).abs().max() < tol and (h[:, -1] - ref[:, -1]).abs().max() < tol  # the final state
    for x, y in zip(got, want, strict=True):
        assert x.dtype == y.dtype and (x - y).abs().max() < tol * max(1.0, y.abs().max().item())


def test_chunked_scan_passes_gradcheck_in_float64():
    a = torch.rand(1, 35, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(1, 35, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(TC.chunked_scan, (a, b, h0))
    assert torch.autograd.gradcheck(lambda a, b: TC.chunked_scan(a, b, None), (a, b))


def test_half_inputs_give_float32_states_and_gradients_in_their_own_dtype():
    a = torch.rand(1, 40, 4).bfloat16().requires_grad_()
    b = torch.randn(1, 40, 4).bfloat16().requires_grad_()
    h0 = torch.randn(1, 4, requires_grad=True)  # float32, as a learned state under autocast
    h = TC.chunked_scan(a, b, h0)
    ref = scan_sequential(a.float(), b.float(), h0)
    assert h.dtype == torch.float32 and (h - ref).abs().max() < 1e-5
    ga, gb, gh0 = torch.autograd.grad(h.sum(), (a, b, h0))
    assert (ga.dtype, gb.dtype, gh0.dtype) == (torch.bfloat16, torch.bfloat16, torch.float32)


def test_the_shape_chooses_the_chunked_scan_for_long_sequences_and_few_programs():
    assert TC.chunk_length(16) == 16 and TC.chunk_length(4096) == 64 and TC.chunk_length(2**20) == 256
    assert TC.use_chunked(1, 4096, 128) and TC.use_chunked(64, 4096, 128)  # Figure 1: 64 programs
    assert not TC.use_chunked(64, 4096, 1024)  # 512 programs fill a GPU: the loop
    assert not TC.use_chunked(1, 32, 128)  # two chunks: the loop


def test_scan_triton_takes_the_chunked_kernel_by_shape(monkeypatch):
    """scan(backend='triton') runs the chunked kernel where use_chunked says so (here: always)."""
    calls = []
    monkeypatch.setattr(TC, "use_chunked", lambda B, T, C: calls.append((B, T, C)) or True)
    a, b = torch.rand(2, 50, 6, dtype=torch.float64), torch.randn(2, 50, 6, dtype=torch.float64)
    assert (scan(a, b, backend="triton") - scan_sequential(a, b)).abs().max() < 1e-12 and calls == [(2, 50, 6)]
