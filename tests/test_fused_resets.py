"""Fused resets (issue 37, part 1): the C and Triton gate kernels take ``resets`` themselves (the state before
a reset is zeros, no gradient flows back past it) and equal the reference gate scan and the ``sequential``
backend in outputs, final state and gradients (input, parameters, h0), for random masks, a reset at t = 0,
all resets, none and cu_seqlens; Triton runs in its interpreter (tests/conftest.py)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minrnn import MinGRU, MinLSTM, backends, layers
from minrnn.ops import native
from minrnn.ops import triton_scan as TS
from minrnn.ops.reference import g, gate_scan
from minrnn.resets import resets_from_cu_seqlens

MODES = ["gru", "lstm", "lstm_norm"]
CU = [0, 5, 22, 23, 37, 40]  # T = 40: sequences of 5, 17, 1, 14 and 3 steps
KERNELS = {"cpu": native.gate_scan, "triton": TS.gate_scan}


def mask(kind: str, B: int = 2, T: int = 40) -> torch.Tensor:
    """Resets of one kind: random with one at t = 0, every step, none, or cu_seqlens' starts on every row."""
    gen = torch.Generator().manual_seed(7)
    r = {
        "random": lambda: torch.rand(B, T, generator=gen) < 0.2,
        "all": lambda: torch.ones(B, T, dtype=torch.bool),
        "none": lambda: torch.zeros(B, T, dtype=torch.bool),
        "cu_seqlens": lambda: resets_from_cu_seqlens([c for c in CU if c < T] + [T]).expand(B, T).clone(),
    }[kind]()
    if kind == "random":
        r[0, 0] = True
    return r


def written_out(p, h0, mode, use_g, resets):
    """The definition step by step: at a reset the previous state is zeros (minrnn.resets)."""
    parts = p.chunk(2 if mode == "gru" else 3, dim=-1)
    h, out = h0 if h0 is not None else torch.zeros_like(parts[0][:, 0]), []
    for t in range(p.shape[1]):
        prev = torch.where(resets[:, t, None], torch.zeros_like(h), h)
        cand = g(parts[-1][:, t]) if use_g else parts[-1][:, t]
        if mode == "gru":
            z = torch.sigmoid(parts[0][:, t])
            h = (1 - z) * prev + z * cand
        else:
            f, i = torch.sigmoid(parts[0][:, t]), torch.sigmoid(parts[1][:, t])
            s = f + i if mode == "lstm_norm" else torch.ones_like(f)
            h = (f * prev + i * cand) / s
        out.append(h)
    return torch.stack(out, 1)


def inputs(mode, B=2, T=40, H=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    P = H * (2 if mode == "gru" else 3)
    p = torch.randn(B, T, P, dtype=torch.float64, generator=gen).requires_grad_()
    h0 = torch.randn(B, H, dtype=torch.float64, generator=gen).requires_grad_()
    bias = torch.randn(P, dtype=torch.float64, generator=gen).requires_grad_()
    return p, h0, bias


def grads(out, wrt, weights):
    """Gradients of a loss on every state and, weighted apart, the final one (what return_state hands on)."""
    loss = (out * weights).sum() + (out[:, -1] * weights[:, 0]).square().sum()
    return torch.autograd.grad(loss, [t for t in wrt if t is not None])


def assert_equal(out, ref, wrt, tol=1e-10):
    w = torch.randn_like(ref)
    torch.testing.assert_close(out, ref, rtol=0, atol=tol)
    for got, want in zip(grads(out, wrt, w), grads(ref, wrt, w), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=tol)


@pytest.mark.parametrize("kind", ["random", "all", "none", "cu_seqlens"])
@pytest.mark.parametrize("mode", MODES)
def test_the_reference_gate_scan_restarts_from_zeros_at_each_reset(mode, kind):
    p, h0, bias = inputs(mode)
    r = mask(kind)
    assert_equal(gate_scan(p, h0, mode, True, bias, r), written_out(p + bias, h0, mode, True, r), (p, h0, bias))


@pytest.mark.parametrize("kind", ["random", "all", "none", "cu_seqlens"])
@pytest.mark.parametrize("use_g", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_the_c_kernel_with_resets_equals_the_reference_and_passes_gradcheck(mode, use_g, kind):
    p, h0, bias = inputs(mode, T=12)
    r = mask(kind, T=12)
    assert_equal(native.gate_scan(p, h0, mode, use_g, bias, r), gate_scan(p, h0, mode, use_g, bias, r), (p, h0, bias))
    assert torch.autograd.gradcheck(lambda p, h0, b: native.gate_scan(p, h0, mode, use_g, b, r), (p, h0, bias))
    assert torch.autograd.gradcheck(lambda p: native.gate_scan(p, None, mode, use_g, None, r), (p,))


@pytest.mark.parametrize("kind", ["random", "all", "none", "cu_seqlens"])
@pytest.mark.parametrize("mode", MODES)
def test_the_triton_kernel_with_resets_equals_the_reference(mode, kind):
    p, h0, bias = inputs(mode, H=20)  # 20 channels: one block of 32, partly masked
    r = mask(kind)
    assert_equal(TS.gate_scan(p, h0, mode, True, bias, r), gate_scan(p, h0, mode, True, bias, r), (p, h0, bias))


@pytest.mark.parametrize("backend", ["cpu", "triton"])
def test_a_reset_at_t0_drops_h0_and_its_gradient(backend):
    p, h0, _ = inputs("lstm", T=6)
    r = torch.zeros(2, 6, dtype=torch.bool)
    r[:, 0] = True
    out = KERNELS[backend](p, h0, "lstm", True, None, r)
    torch.testing.assert_close(out, KERNELS[backend](p, None, "lstm", True), rtol=0, atol=0)
    (gh0,) = torch.autograd.grad(out.sum(), [h0])
    assert torch.count_nonzero(gh0) == 0


@pytest.mark.parametrize("backend", ["cpu", "triton"])
def test_uint8_and_strided_resets_equal_bool_resets(backend):
    p, h0, bias = inputs("gru", T=9)
    r = mask("random", T=9)
    strided = r.t().contiguous().t()  # the kernels make the mask contiguous before they read it
    assert not strided.is_contiguous()
    torch.testing.assert_close(
        KERNELS[backend](p, h0, "gru", True, bias, strided), gate_scan(p, h0, "gru", True, bias, r)
    )
    as_bytes = r.to(torch.uint8) * 3  # any nonzero byte is a reset
    torch.testing.assert_close(
        KERNELS[backend](p, h0, "gru", True, bias, as_bytes), gate_scan(p, h0, "gru", True, bias, r)
    )


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    B=st.integers(1, 3),
    T=st.integers(1, 24),
    mode=st.sampled_from(MODES),
    use_g=st.booleans(),
    with_h0=st.booleans(),
)
def test_any_mask_on_the_c_kernel_equals_the_reference(data, B, T, mode, use_g, with_h0):
    r = torch.tensor(data.draw(st.lists(st.booleans(), min_size=B * T, max_size=B * T))).view(B, T)
    p, h0, bias = inputs(mode, B, T, H=3, seed=T)
    h0 = h0 if with_h0 else None
    assert_equal(native.gate_scan(p, h0, mode, use_g, bias, r), gate_scan(p, h0, mode, use_g, bias, r), (p, h0, bias))


@settings(max_examples=12, deadline=None)  # the interpreter takes ~10 ms per step of a program
@given(data=st.data(), T=st.integers(1, 10), mode=st.sampled_from(MODES))
def test_any_mask_on_the_triton_kernel_equals_the_reference(data, T, mode):
    r = torch.tensor(data.draw(st.lists(st.booleans(), min_size=2 * T, max_size=2 * T))).view(2, T)
    p, h0, bias = inputs(mode, 2, T, H=3, seed=T)
    assert_equal(TS.gate_scan(p, h0, mode, False, bias, r), gate_scan(p, h0, mode, False, bias, r), (p, h0, bias))


LAYERS = {"minGRU": (MinGRU, {}), "minLSTM": (MinLSTM, {}), "minLSTM-normalised": (MinLSTM, {"normalize_gates": True})}


CASES = [  # the log-space backend runs log-space layers only (a vanilla h~ can be negative)
    (backend, name, log_space, kind)
    for backend in ("log", "cpu", "triton")
    for name in LAYERS
    for log_space in ((True,) if backend == "log" else (True, False))
    for kind in ("random", "all", "none", "cu_seqlens")
]


@pytest.mark.parametrize("backend, name, log_space, kind", CASES)
def test_every_backend_with_resets_equals_sequential(backend, name, log_space, kind):
    """Outputs, final state and gradients w.r.t. the input, the parameters and h0."""
    cls, kwargs = LAYERS[name]
    torch.manual_seed(3)
    layer = cls(4, 6, log_space=log_space, scan="sequential", **kwargs).double()
    x = torch.randn(2, 40, 4, dtype=torch.float64, requires_grad=True)
    h0 = (torch.rand(2, 6, dtype=torch.float64) + 0.1).requires_grad_()
    r = mask(kind)
    ref, ref_last = layer(x, h0, return_state=True, resets=r)
    layer.scan = backend
    out, last = layer(x, h0, return_state=True, resets=r)
    torch.testing.assert_close(last, ref_last, rtol=0, atol=1e-10)
    assert_equal(out, ref, (x, h0, *layer.parameters()))


@pytest.mark.parametrize("backend", ["cpu", "triton"])
def test_the_layers_hand_resets_to_the_kernel_not_to_the_generic_scan(backend, monkeypatch):
    def refuse(*args):
        raise AssertionError("the reset path went through the generic scan")

    torch.manual_seed(4)
    layer = MinGRU(3, 4, scan="sequential").double()
    x = torch.randn(1, 40, 3, dtype=torch.float64)
    ref = layer(x, resets=resets_from_cu_seqlens(CU))
    monkeypatch.setattr(layers, "reset_coefficients", refuse)
    assert backends.BACKENDS[backend].fused_resets and not backends.BACKENDS["sequential"].fused_resets
    layer.scan = backend
    torch.testing.assert_close(layer(x, resets=resets_from_cu_seqlens(CU)), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", ["cpu", "triton"])
@pytest.mark.parametrize(
    "resets, match",
    [
        (torch.zeros(2, 7), "bool tensor"),
        (torch.zeros(2, 6, dtype=torch.bool), r"shape \(B, T\) = \(2, 7\)"),
        (torch.zeros(7, dtype=torch.uint8), r"shape \(B, T\)"),
    ],
)
def test_bad_resets_are_refused_by_the_kernels_with_one_message(backend, resets, match):
    with pytest.raises(ValueError, match=match):
        KERNELS[backend](torch.randn(2, 7, 6), None, "gru", True, None, resets)


@pytest.mark.parametrize("backend", ["cpu", "triton"])
def test_the_ops_with_resets_pass_torch_opcheck(backend):
    p, h0, bias = inputs("lstm_norm", T=7)
    torch.library.opcheck(KERNELS[backend], (p, h0, "lstm_norm", True, bias, mask("random", T=7)))


@pytest.mark.parametrize("backend", ["cpu", "triton"])
def test_a_compiled_layer_with_resets_equals_eager(backend):
    """torch.compile(fullgraph=True) sees the kernels with resets as operators (fake, autograd registered)."""
    torch.manual_seed(5)
    layer, x = MinLSTM(4, 8, scan=backend), torch.randn(2, 30, 4, requires_grad=True)
    r = mask("random", T=30)
    out, ref = torch.compile(layer, fullgraph=True, backend="aot_eager")(x, resets=r), layer(x, resets=r)
    w = torch.randn_like(ref)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    for got, want in zip(grads(out, [x], w), grads(ref, [x], w), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)
