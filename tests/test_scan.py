import contextlib
import inspect
import os
import subprocess
import sys

import pytest
import torch
from conftest import positive_inputs

from minrnn import backends as B
from minrnn import scan as S
from minrnn.ops import reference as R

LOCAL = ["sequential", "log", "cpu"]  # the backends that run on CPU


@pytest.mark.parametrize("backend", LOCAL)
@pytest.mark.parametrize("T", [1, 2, 17, 256, 4096])
@pytest.mark.parametrize("with_h0", [False, True])
def test_backends_equal_sequential_float64(backend, T, with_h0):
    a, b, h0 = positive_inputs(2, T, 8)
    h0 = h0 if with_h0 else None
    ref = R.scan_sequential(a, b, h0)
    out = S.scan(a, b, h0, backend=backend)
    assert out.shape == (2, T, 8)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)


# float32 against a float64 reference at T=4096. The log-space scan's float32 error grows with
# |cumsum(log a)| within a chunk (a_star + logcumsumexp cancels), so it is looser than the loops',
# which accumulate in float32 step by step and stay near rounding error.
F32_TOL = {"sequential": 1e-5, "cpu": 1e-5, "log": 1e-4}


@pytest.mark.parametrize("backend", LOCAL)
def test_backends_float32_tolerance(backend):
    a, b, h0 = positive_inputs(4, 4096, 16)
    ref = R.scan_sequential(a, b, h0)
    out = S.scan(a.float(), b.float(), h0.float(), backend=backend)
    assert out.dtype == torch.float32
    err = (out.double() - ref).abs().max().item()
    assert err < F32_TOL[backend], f"{backend}: max abs error {err:.2e} at T=4096"


def test_cpu_backend_handles_signed_values():
    a = torch.rand(3, 300, 5, dtype=torch.float64)
    b, h0 = torch.randn(3, 300, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    torch.testing.assert_close(B.scan_cpu(a, b, h0), R.scan_sequential(a, b, h0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", LOCAL)
def test_gradcheck(backend):
    a, b, h0 = (t.requires_grad_() for t in positive_inputs(2, 9, 3))
    assert torch.autograd.gradcheck(lambda a, b, h0: S.scan(a, b, h0, backend=backend), (a, b, h0))
    assert torch.autograd.gradcheck(lambda a, b: S.scan(a, b, backend=backend), (a, b))


def test_listing5_with_and_without_h0():
    a, b, h0 = positive_inputs(2, 30, 4)
    with_h0 = R.parallel_scan_log(a.log(), torch.cat([h0.log().unsqueeze(1), b.log()], 1))
    torch.testing.assert_close(with_h0, R.scan_sequential(a, b, h0), rtol=0, atol=1e-12)
    torch.testing.assert_close(R.parallel_scan_log(a.log(), b.log()), R.scan_sequential(a, b), rtol=0, atol=1e-12)


@pytest.mark.parametrize("logit", [50.0, -50.0])
def test_log_scan_finite_for_a_million_steps_and_extreme_gates(logit):
    """minGRU's log coefficients for gate logits of +-50 over T = 1,000,000 (float32) stay finite."""
    T = 1_000_000
    k = torch.full((1, T, 2), logit)
    k[0, ::2, 1] = -logit  # alternate in the second channel
    log_coeffs = -torch.nn.functional.softplus(k)
    log_values = -torch.nn.functional.softplus(-k) + 0.1
    h = R.parallel_scan_log(log_coeffs, log_values)
    assert torch.isfinite(h).all()
    # The compiled loop on the same recurrence is exact to float32 rounding, even here.
    a, b = log_coeffs.exp(), log_values.exp()
    ref = B.scan_cpu(a.double(), b.double())
    torch.testing.assert_close(B.scan_cpu(a, b).double(), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("chunk", [1, 3, 64])
@pytest.mark.parametrize("T", [1, 5, 64, 65, 200])
@pytest.mark.parametrize("with_h0", [False, True])
def test_chunked_log_scan_equals_sequential_float64(chunk, T, with_h0):
    a, b, h0 = positive_inputs(2, T, 3)
    h0 = h0 if with_h0 else None
    out = R.scan_log(a, b, h0, chunk=chunk)
    torch.testing.assert_close(out, R.scan_sequential(a, b, h0), rtol=0, atol=1e-12)


def test_chunked_log_scan_gradcheck():
    a, b, h0 = (t.requires_grad_() for t in positive_inputs(2, 11, 3))
    assert torch.autograd.gradcheck(lambda a, b, h0: R.scan_log(a, b, h0, chunk=4), (a, b, h0))
    assert torch.autograd.gradcheck(lambda a, b: R.scan_log(a, b, chunk=4), (a, b))


def gru_like(T, C, seed=0):
    """minGRU's coefficients for N(0, 1) gate and candidate pre-activations, in float64."""
    gen = torch.Generator().manual_seed(seed)
    k, x = (
        torch.randn(1, T, C, generator=gen, dtype=torch.float64),
        torch.randn(1, T, C, generator=gen, dtype=torch.float64),
    )
    z = torch.sigmoid(k)
    return 1 - z, z * torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


# Max relative error of h over 1,000,000 steps against float64 on the same (rounded) inputs. The
# loops round the state once per step; the chunked log scan's float32 error is bounded by its chunk
# (Listing 5 unchunked: 0.12 here); half precision is computed in float32 and rounded once at the end.
MILLION_TOL = {
    ("cpu", torch.float32): 1e-6,
    ("log", torch.float32): 1e-4,
    ("cpu", torch.bfloat16): 8e-3,
    ("log", torch.bfloat16): 8e-3,
    ("cpu", torch.float16): 1e-3,
    ("log", torch.float16): 1e-3,
}


@pytest.mark.parametrize("backend,dtype", list(MILLION_TOL))
def test_a_million_steps_stay_accurate(backend, dtype):
    a, b = gru_like(1_000_000, 2)
    a, b = a.to(dtype), b.to(dtype)
    ref = B.scan_cpu(a.double(), b.double())
    h = S.scan(a, b, backend=backend)
    assert h.dtype == dtype and torch.isfinite(h).all()
    err = ((h.double() - ref).abs() / ref).max().item()
    assert err < MILLION_TOL[backend, dtype], f"{backend} {dtype}: max relative error {err:.1e}"


def test_listing5_unchunked_loses_float32_accuracy_where_chunked_does_not():
    """Why the log backend chunks: Listing 5 over 1,000,000 steps is off by percents in float32."""
    a, b = gru_like(1_000_000, 2)
    ref = B.scan_cpu(a, b)
    unchunked = R.scan_log(a.float(), b.float(), chunk=0).double()
    chunked = R.scan_log(a.float(), b.float()).double()
    assert ((unchunked - ref).abs() / ref).max() > 1e-2
    assert ((chunked - ref).abs() / ref).max() < 1e-4


def test_log_scan_gradient_accurate_at_long_lengths():
    """float32 gradient of sum(w * h) w.r.t. log a and log b at T = 65,536, against float64."""
    a, b = gru_like(65_536, 4, seed=1)
    w = torch.randn(a.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)

    def grads(dtype, chunk):
        la, lb = (t.log().to(dtype).requires_grad_() for t in (a, b))
        (R.parallel_scan_log_chunked(la, lb, chunk) * w.to(dtype)).sum().backward()
        return torch.cat([la.grad.flatten(), lb.grad.flatten()]).double()

    ref = grads(torch.float64, 64)
    rel = ((grads(torch.float32, 64) - ref).norm() / ref.norm()).item()
    assert rel < 1e-4, f"chunked log scan: gradient relative error {rel:.1e}"


@pytest.mark.parametrize("a_value", [0.0, 1e-300])
def test_log_scan_with_vanishing_coefficients_is_finite_and_exact(a_value):
    """a = 0 (a saturated gate underflows to it) would be log 0 = -inf in Listing 5: floored, it is exact."""
    a, b, h0 = positive_inputs(2, 150, 3)
    a[:, ::7] = a_value
    out = R.scan_log(a, b, h0)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, R.scan_sequential(a, b, h0), rtol=1e-12, atol=0)


def test_bad_input_raises_value_error():
    a = torch.rand(2, 5, 3)
    with pytest.raises(ValueError, match=r"scan: b must have shape \(B, T, C\) = \(2, 5, 3\), got \(2, 5, 4\)"):
        S.scan(a, torch.rand(2, 5, 4))
    with pytest.raises(ValueError, match=r"scan: a must have shape \(B, T, C\) with T >= 1, got \(5, 3\)"):
        S.scan(a[0], a[0])
    with pytest.raises(ValueError, match="h0 must have shape"):
        S.scan(a, a, torch.rand(2, 4))
    with pytest.raises(ValueError, match="unknown scan backend 'fast'"):
        S.scan(a, a, backend="fast")


def test_triton_on_cpu_tensors_needs_the_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match="on CPU tensors with TRITON_INTERPRET=1"):
        S.scan(torch.rand(2, 5, 3), torch.rand(2, 5, 3), backend="triton")


def test_auto_picks_cpu_kernel_on_cpu():
    assert B.resolve("auto", torch.device("cpu")) == "cpu"
    assert B.triton_problem(torch.device("cpu")) is not None


def test_auto_falls_back_to_sequential_without_the_kernel_with_one_warning():
    code = (
        "import warnings, torch; from minrnn import backends as B, MinGRU\n"
        "layer = MinGRU(3, 4)\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    print(layer(torch.randn(2, 5, 3)).shape, layer(torch.randn(2, 5, 3)).shape)\n"
        "    assert B.resolve('auto', torch.device('cpu')) == 'sequential'\n"
        "print([str(w.message) for w in caught])\n"
    )
    env = dict(os.environ, MINRNN_DISABLE_NATIVE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "torch.Size([2, 5, 4])" in out.stdout
    warned = out.stdout.strip().splitlines()[-1]
    assert warned.count("scan='auto' on cpu uses 'sequential'") == 1, warned  # once, with reason and cost
    assert "disabled by MINRNN_DISABLE_NATIVE" in warned and "10x slower" in warned


def test_building_a_layer_compiles_nothing(tmp_path):
    code = (
        "from minrnn import MinGRU, MinLSTM\nfrom minrnn.ops import native\n"
        "MinGRU(3, 4), MinLSTM(3, 4)\nprint(native._loaded == {})\n"
    )
    env = dict(os.environ, MINRNN_CACHE=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stdout + out.stderr
    assert list(tmp_path.iterdir()) == []


def test_auto_on_cuda_falls_back_to_log_with_one_warning_naming_the_reason(monkeypatch):
    import warnings

    def no_launcher(device):
        raise RuntimeError("Failed to compile launcher: Python.h: No such file or directory")

    monkeypatch.setattr(B, "_probe_triton", no_launcher)
    monkeypatch.setattr(B, "_RESOLVED", {})
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device: (8, 0))
    cuda = torch.device("cuda", 0)
    with pytest.warns(RuntimeWarning, match="on cuda:0 uses 'log': 'triton' cannot run there.*Python.h: No such file"):
        assert B.resolve("auto", cuda) == "log"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, not at every call
        assert B.resolve("auto", cuda) == "log"
    with pytest.warns(RuntimeWarning, match="on cuda:0 uses 'sequential'"):  # a vanilla layer cannot take log
        assert B.resolve("auto", cuda, any_sign=True) == "sequential"
    monkeypatch.setattr(B, "_probe_triton", lambda device: None)
    assert B.resolve("auto", torch.device("cuda", 1)) == "triton"  # each device checked on its own


def test_auto_on_a_p100_takes_the_log_scan_saying_why(monkeypatch):
    """Triton supports compute capability >= 7.0: on a P100 (6.0) ``auto`` does not launch it."""
    from minrnn import backends as B

    monkeypatch.setattr(B, "_probe_triton", lambda device: None)  # a launch that would work
    monkeypatch.setattr(B, "_RESOLVED", {})
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device: (6, 0))
    with pytest.warns(RuntimeWarning, match="uses 'log': 'triton' cannot run there.*7.0 and up, this GPU is 6.0"):
        assert B.resolve("auto", torch.device("cuda", 0)) == "log"


def test_triton_kernels_launch_on_their_tensors_device(monkeypatch):
    from types import SimpleNamespace

    from minrnn.ops import triton_scan as TS

    entered = []
    monkeypatch.setattr(TS.torch.cuda, "device", lambda d: entered.append(d) or contextlib.nullcontext())
    with TS.on_device(SimpleNamespace(device=torch.device("cuda", 1))):
        pass
    assert entered == [torch.device("cuda", 1)]
    source = inspect.getsource(TS)
    assert source.count("with on_device(") == source.count("[(B, triton.cdiv(") == 4  # every launch guarded


@pytest.mark.parametrize("backend", ["sequential", "log", "cpu", "triton"])
def test_arguments_on_another_device_or_of_an_integer_dtype_are_one_message(backend):
    a, b, h0 = positive_inputs(2, 5, 3)
    with pytest.raises(ValueError, match="h0 is on meta but a is on cpu"):
        S.scan(a, b, torch.empty(2, 3, dtype=torch.float64, device="meta"), backend=backend)
    with pytest.raises(ValueError, match="b must be a floating-point tensor"):
        S.scan(a, b.long(), backend=backend)
