import os
import subprocess
import sys

import pytest
import torch

from minrnn.ops import native
from minrnn.ops.reference import gate_scan as reference


@pytest.mark.parametrize("mode", ["gru", "lstm", "lstm_norm"])
@pytest.mark.parametrize("use_g", [True, False])
def test_fused_kernel_matches_reference_and_gradcheck(mode, use_g):
    P = 6 * (2 if mode == "gru" else 3)
    p = torch.randn(3, 11, P, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    out = native.gate_scan(p, h0, mode, use_g)
    torch.testing.assert_close(out, reference(p, h0, mode, use_g), rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(lambda p, h0: native.gate_scan(p, h0, mode, use_g), (p, h0))
    assert torch.autograd.gradcheck(lambda p: native.gate_scan(p, None, mode, use_g), (p,))


@pytest.mark.parametrize("mode", ["gru", "lstm", "lstm_norm"])
@pytest.mark.parametrize("use_g", [True, False])
def test_bias_added_in_the_kernel_equals_bias_added_to_p_and_gradcheck(mode, use_g):
    P = 5 * (2 if mode == "gru" else 3)
    p = torch.randn(2, 7, P, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(P, dtype=torch.float64, requires_grad=True)
    h0 = torch.rand(2, 5, dtype=torch.float64, requires_grad=True)
    out = native.gate_scan(p, h0, mode, use_g, bias)
    torch.testing.assert_close(out, reference(p + bias, h0, mode, use_g), rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(lambda p, h0, b: native.gate_scan(p, h0, mode, use_g, b), (p, h0, bias))


@pytest.mark.parametrize("B", [1, 2, 64])
def test_thread_split_over_batch_or_channels_is_exact(B, monkeypatch):
    """Big enough to use several threads; B=1 and 2 split channels, B=64 splits batch rows."""
    monkeypatch.setattr(native, "_MIN_WORK_PER_THREAD", 1)
    torch.set_num_threads(max(2, torch.get_num_threads()))
    p = torch.randn(B, 40, 2 * 72, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(2 * 72, dtype=torch.float64, requires_grad=True)
    out = native.gate_scan(p, None, "gru", True, bias)
    torch.testing.assert_close(out, reference(p + bias, None, "gru", True), rtol=0, atol=1e-12)
    g = torch.randn_like(out)
    got = torch.autograd.grad(out, [p, bias], g)  # the bias gradient: one partial sum per thread
    want = torch.autograd.grad(reference(p + bias, None, "gru", True), [p, bias], g)
    for x, y in zip(got, want, strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-12)


def test_strided_projection_needs_no_copy():
    base = torch.randn(2, 9, 30, dtype=torch.float64)
    p = base[:, :, 5:25]  # a view: time stride 30, channel stride 1
    assert not p.is_contiguous()
    torch.testing.assert_close(native.gate_scan(p, None, "gru", True), reference(p, None, "gru", True))


def test_unsupported_dtype_is_a_clear_error():
    with pytest.raises(ValueError, match="float32 and float64"):
        native.gate_scan(torch.randn(1, 3, 4, dtype=torch.float16), None, "gru", True)


def test_build_is_cached_and_atomic(tmp_path):
    """Two processes building into an empty cache at once both load a whole library."""
    code = "from minrnn.ops import native; native.load(); print('ok')"
    env = dict(os.environ, MINRNN_CACHE=str(tmp_path))
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    assert all(p.communicate()[0].strip() == "ok" and p.returncode == 0 for p in procs)
    libs = list(tmp_path.glob("scan-*.so"))
    assert len(libs) == 1 and not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob("tmp*"))


def test_missing_compiler_is_reported(tmp_path):
    code = (
        "from minrnn.ops import native\nprint(native.available())\n"
        "try:\n native.load()\nexcept RuntimeError as e:\n print(e)"
    )
    env = dict(os.environ, MINRNN_CACHE=str(tmp_path), CC="/nonexistent/cc")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "False"
    assert "compiled CPU scan is unavailable" in out.stdout


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: native.linear_scan(torch.rand(2, 5, 3), torch.rand(2, 5, 4), None), r"b must have shape \(2, 5, 3\)"),
        (lambda: native.linear_scan(torch.rand(2, 5, 3), torch.rand(2, 5, 3), torch.rand(3, 3)), r"h0 must have shape"),
        (
            lambda: native.linear_scan(torch.rand(2, 5, 3), torch.rand(2, 5, 3).double(), None),
            r"b must be a CPU tensor",
        ),
        (lambda: native.gate_scan(torch.rand(2, 5, 7), None, "lstm", True), r"p must have shape \(B, T, 3 \* H\)"),
        (lambda: native.gate_scan(torch.rand(2, 5, 6), torch.rand(2, 4), "gru", True), r"h0 must have shape \(2, 3\)"),
        (lambda: native.gate_scan(torch.rand(2, 5, 6), None, "rnn", True), r"mode must be one of"),
        # the shapes an AddressSanitizer run once fed the S6 kernel (A for 12 channels, u with 40): an overflow then
        (
            lambda: native.selective_scan(
                *(torch.rand(s) for s in [(2, 12, 40), (2, 12, 40), (12, 4), (2, 4, 12), (2, 4, 12)])
            ),
            r"S6: A must have shape \(40, 4\)",
        ),
        (  # the backward is an op of its own: its chunk states are checked too
            lambda: native.selective_scan_backward(
                *(torch.rand(s) for s in [(2, 70, 3), (2, 70, 3), (3, 4), (2, 70, 4), (2, 70, 4), (2, 1, 3, 4)]),
                torch.rand(2, 70, 3),
            ),
            r"S6 backward: hc must have shape \(2, 2, 3, 4\)",
        ),
        (
            lambda: native.selective_scan_backward(
                *(torch.rand(s) for s in [(70, 3), (70, 3), (3, 4), (70, 4), (70, 4), (1, 3, 4), (70, 3)])
            ),
            r"S6 backward: u must be \(B, L, D\)",
        ),
    ],
)
def test_a_layout_the_kernel_would_misread_is_refused_before_it_runs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rms_norm_equals_torch_and_gradcheck(dtype):
    x = torch.randn(3, 17, 24, dtype=dtype, requires_grad=True)
    w = torch.rand(24, dtype=dtype, requires_grad=True) + 0.5
    y, rstd = native.rms_norm(x, w, 1e-6)
    want = torch.nn.functional.rms_norm(x, (24,), w, 1e-6)
    tol = {"rtol": 0, "atol": 1e-12} if dtype == torch.float64 else {}
    torch.testing.assert_close(y, want, **tol)
    torch.testing.assert_close(rstd, x.detach().square().mean(-1).add(1e-6).rsqrt(), **tol)
    g = torch.randn_like(y)
    for a, b in zip(torch.autograd.grad(y, [x, w], g), torch.autograd.grad(want, [x, w], g), strict=True):
        torch.testing.assert_close(a, b, **tol)
    if dtype == torch.float64:
        assert torch.autograd.gradcheck(lambda x, w: native.rms_norm(x, w, 1e-6)[0], (x, w))


def test_rms_norm_split_over_threads_sums_the_weight_gradient_exactly(monkeypatch):
    monkeypatch.setattr(native, "_MIN_WORK_PER_THREAD", 1)
    torch.set_num_threads(max(2, torch.get_num_threads()))
    x = torch.randn(5, 31, 8, dtype=torch.float64, requires_grad=True)
    w = torch.randn(8, dtype=torch.float64, requires_grad=True)
    g = torch.randn(5, 31, 8, dtype=torch.float64)
    got = torch.autograd.grad(native.rms_norm(x, w, 1e-5)[0], [x, w], g)
    want = torch.autograd.grad(torch.nn.functional.rms_norm(x, (8,), w, 1e-5), [x, w], g)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_rms_norm_refuses_a_weight_of_the_wrong_size():
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\)"):
        native.rms_norm(torch.randn(2, 4), torch.randn(3), 1e-6)
