"""The chunked Triton scan (minrnn/ops/triton_chunked.py) against the sequential reference, under Triton's
interpreter (tests/conftest.py): outputs, final state and gradients for a, b and h0, with resets, in
float32 and float64 (gradcheck), across chunk boundaries; and its choice by shape. The fused minGRU/minLSTM
recurrence in chunks (chunked_gate_scan) against the reference gate scan and the loop kernel: every mode,
candidate, h0, bias and resets (fused, at chunk starts too), gradients, half inputs, and a compiled layer."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minrnn import MinGRU, MinLSTM
from minrnn.ops import triton_chunked as TC
from minrnn.ops import triton_scan as TS
from minrnn.ops.reference import gate_scan, scan_sequential
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
    a = torch.rand(1, 20, 2, dtype=torch.float64, requires_grad=True)  # two chunks of 16
    b = torch.randn(1, 20, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, dtype=torch.float64, requires_grad=True)
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


# ---- the fused minGRU / minLSTM recurrence in chunks (chunked_gate_scan) ------------------------------------

GATE_MODES = ["gru", "lstm", "lstm_norm"]


def gate_inputs(mode, B=2, T=40, H=20, seed=0, dtype=torch.float64):
    """T = 40 in chunks of 16 (two full chunks and a partial one); H = 20: one block of 32, partly masked."""
    gen = torch.Generator().manual_seed(seed)
    P = H * (2 if mode == "gru" else 3)
    p = torch.randn(B, T, P, dtype=dtype, generator=gen).requires_grad_()
    h0 = torch.randn(B, H, dtype=dtype, generator=gen).requires_grad_()
    bias = torch.randn(P, dtype=dtype, generator=gen).requires_grad_()
    return p, h0, bias


def gate_masks(B, T):
    gen = torch.Generator().manual_seed(7)
    random = torch.rand(B, T, generator=gen) < 0.15
    random[0, 0] = True
    boundary = torch.zeros(B, T, dtype=torch.bool)
    boundary[:, 16 % T] = boundary[:, min(32, T - 1)] = True  # at a chunk's first step
    return {"none": None, "random": random, "chunk starts": boundary, "all": torch.ones(B, T, dtype=torch.bool)}


def assert_same_with_gradients(out, ref, wrt, tol):
    torch.testing.assert_close(out, ref, rtol=0, atol=tol)
    w = torch.randn_like(ref)
    loss = lambda h: (h * w).sum() + h[:, -1].square().sum()  # noqa: E731  the final state weighted apart
    wrt = [t for t in wrt if t is not None]
    for got, want in zip(torch.autograd.grad(loss(out), wrt), torch.autograd.grad(loss(ref), wrt), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=tol * max(1.0, want.abs().max().item()))


@pytest.mark.parametrize("kind", ["none", "random", "chunk starts", "all"])
@pytest.mark.parametrize("use_g, with_h0", [(True, True), (False, False)])  # the others: Hypothesis below
@pytest.mark.parametrize("mode", GATE_MODES)
def test_chunked_gate_scan_equals_the_reference_with_h0_resets_bias_and_gradients(mode, use_g, with_h0, kind):
    p, h0, bias = gate_inputs(mode)
    h0 = h0 if with_h0 else None
    r = gate_masks(2, 40)[kind]
    out, ref = TC.chunked_gate_scan(p, h0, mode, use_g, bias, r), gate_scan(p, h0, mode, use_g, bias, r)
    assert out.dtype == torch.float64 and out.shape == ref.shape
    assert_same_with_gradients(out, ref, (p, h0, bias), 1e-10)


# the interpreter runs every program step by step (~3 s an example): 12 in make test, more in other profiles
@settings(max_examples=max(12, settings.default.max_examples // 8), deadline=None)
@given(
    data=st.data(), T=st.integers(1, 70), mode=st.sampled_from(GATE_MODES), use_g=st.booleans(), with_h0=st.booleans()
)
def test_any_length_and_mask_on_the_chunked_gate_scan_equals_the_loop_kernel(data, T, mode, use_g, with_h0):
    """Any T (one partial chunk up to five chunks), any reset mask: the chunked kernel equals the loop kernel."""
    r = torch.tensor(data.draw(st.lists(st.booleans(), min_size=2 * T, max_size=2 * T))).view(2, T)
    p, h0, bias = gate_inputs(mode, T=T, H=3, seed=T)
    h0 = h0 if with_h0 else None
    out, ref = TC.chunked_gate_scan(p, h0, mode, use_g, bias, r), TS.gate_scan(p, h0, mode, use_g, bias, r)
    assert_same_with_gradients(out, ref, (p, h0, bias), 1e-10)


def test_chunked_gate_scan_passes_gradcheck_and_opcheck():
    p, h0, bias = gate_inputs("lstm_norm", B=1, T=18, H=1)  # two chunks of 16 (the interpreter is slow)
    r = torch.zeros(1, 18, dtype=torch.bool)
    r[0, 10] = True
    f = lambda p, h0, b: TC.chunked_gate_scan(p, h0, "lstm_norm", True, b, r)  # noqa: E731
    assert torch.autograd.gradcheck(f, (p, h0, bias))
    torch.library.opcheck(TC.chunked_gate_scan, (p, h0, "lstm_norm", True, bias, r))


def test_chunked_gate_scan_of_half_inputs_keeps_a_float32_state_and_gradients_in_their_dtypes():
    p, h0, bias = gate_inputs("gru", T=40, H=4, dtype=torch.float32)
    pb = p.detach().bfloat16().requires_grad_()
    out = TC.chunked_gate_scan(pb, h0, "gru", True, bias, None)
    ref = TS.gate_scan(pb, h0, "gru", True, bias, None)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    gp, gh0, gb = torch.autograd.grad(out.sum(), (pb, h0, bias))
    assert (gp.dtype, gh0.dtype, gb.dtype) == (torch.bfloat16, torch.float32, torch.float32)


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
def test_the_triton_backend_runs_the_chunked_gate_scan_by_shape_in_a_compiled_layer(cls, monkeypatch):
    """Forced by use_chunked, the layer's fused path takes the chunked kernel; compiled (fullgraph) equals eager,
    and both equal the sequential backend with resets."""
    calls = []
    monkeypatch.setattr(TC, "use_chunked", lambda B, T, C: calls.append((B, T, C)) or True)
    torch.manual_seed(5)
    layer = cls(4, 6, scan="sequential").double()
    x = torch.randn(2, 40, 4, dtype=torch.float64, requires_grad=True)
    r = gate_masks(2, 40)["random"]
    ref = layer(x, resets=r)
    layer.scan = "triton"
    eager = layer(x, resets=r)
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")(x, resets=r)
    assert calls and all(c == (2, 40, 6) for c in calls)
    assert_same_with_gradients(eager, ref, (x, *layer.parameters()), 1e-10)
    assert_same_with_gradients(compiled, layer(x, resets=r), (x, *layer.parameters()), 1e-12)


def test_bad_inputs_to_the_chunked_gate_scan_get_one_message():
    with pytest.raises(ValueError, match="mode must be one of"):
        TC.chunked_gate_scan(torch.randn(1, 4, 6), None, "rnn", True)
    with pytest.raises(ValueError, match=r"shape \(B, T\)"):
        TC.chunked_gate_scan(torch.randn(1, 4, 6), None, "gru", True, None, torch.zeros(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="bias must be"):
        TC.chunked_gate_scan(torch.randn(1, 4, 6), None, "gru", True, torch.zeros(5))


def test_pinned_nests_restores_after_an_error_holds_in_its_own_thread_only_and_recompiles():
    """A pin is a stack per thread (as torch's grad mode): another thread, e.g. a second benchmark, keeps
    the choice by shape; a compiled function follows the pin (the guard on it recompiles)."""
    import threading

    from torch._dynamo.testing import CompileCounter

    long, short = (1, 4096, 128), (1, 16, 4)  # by shape: the chunked kernel, the loop
    counter = CompileCounter()
    choice = torch.compile(lambda x: x + 1 if TC.use_chunked(*short) else x - 1, fullgraph=True, backend=counter)
    zero = torch.zeros(1)
    assert choice(zero).item() == -1
    seen, entered, leave = {}, threading.Event(), threading.Event()

    def other():
        entered.wait()
        seen["other"] = (TC.use_chunked(*long), TC.use_chunked(*short), choice(zero).item())
        leave.set()

    thread = threading.Thread(target=other)
    thread.start()
    with TC.pinned(True):
        entered.set()
        leave.wait()
        assert TC.use_chunked(*short) and choice(zero).item() == 1
        with pytest.raises(RuntimeError), TC.pinned(False):
            assert not TC.use_chunked(*long) and choice(zero).item() == -1
            raise RuntimeError("inside")
        assert TC.use_chunked(*short) and choice(zero).item() == 1
    thread.join()
    assert seen["other"] == (True, False, -1)
    assert TC.use_chunked(*long) and not TC.use_chunked(*short) and choice(zero).item() == -1
    with pytest.raises(ValueError, match="chunked must be True"), TC.pinned("loop"):
        pass
