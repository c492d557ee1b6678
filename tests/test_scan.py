import os
import subprocess
import sys

import pytest
import torch
from conftest import positive_inputs

from minrnn import scan as S

LOCAL = ["sequential", "log", "cpu"]  # the backends that run on CPU


@pytest.mark.parametrize("backend", LOCAL)
@pytest.mark.parametrize("T", [1, 2, 17, 256, 4096])
@pytest.mark.parametrize("with_h0", [False, True])
def test_backends_equal_sequential_float64(backend, T, with_h0):
    a, b, h0 = positive_inputs(2, T, 8)
    h0 = h0 if with_h0 else None
    ref = S.scan_sequential(a, b, h0)
    out = S.scan(a, b, h0, backend=backend)
    assert out.shape == (2, T, 8)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)


# float32 against a float64 reference at T=4096. The log-space scan loses precision as
# cumsum(log a) grows (a_star + logcumsumexp cancels): its tolerance is the paper's method's,
# not ours. The loops accumulate in float32 step by step and stay near rounding error.
F32_TOL = {"sequential": 1e-5, "cpu": 1e-5, "log": 5e-3}


@pytest.mark.parametrize("backend", LOCAL)
def test_backends_float32_tolerance(backend):
    a, b, h0 = positive_inputs(4, 4096, 16)
    ref = S.scan_sequential(a, b, h0)
    out = S.scan(a.float(), b.float(), h0.float(), backend=backend)
    assert out.dtype == torch.float32
    err = (out.double() - ref).abs().max().item()
    assert err < F32_TOL[backend], f"{backend}: max abs error {err:.2e} at T=4096"


def test_cpu_backend_handles_signed_values():
    a = torch.rand(3, 300, 5, dtype=torch.float64)
    b, h0 = torch.randn(3, 300, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    torch.testing.assert_close(S.scan_cpu(a, b, h0), S.scan_sequential(a, b, h0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", LOCAL)
def test_gradcheck(backend):
    a, b, h0 = (t.requires_grad_() for t in positive_inputs(2, 9, 3))
    assert torch.autograd.gradcheck(lambda a, b, h0: S.scan(a, b, h0, backend=backend), (a, b, h0))
    assert torch.autograd.gradcheck(lambda a, b: S.scan(a, b, backend=backend), (a, b))


def test_listing5_with_and_without_h0():
    a, b, h0 = positive_inputs(2, 30, 4)
    with_h0 = S.parallel_scan_log(a.log(), torch.cat([h0.log().unsqueeze(1), b.log()], 1))
    torch.testing.assert_close(with_h0, S.scan_sequential(a, b, h0), rtol=0, atol=1e-12)
    torch.testing.assert_close(S.parallel_scan_log(a.log(), b.log()), S.scan_sequential(a, b), rtol=0, atol=1e-12)


@pytest.mark.parametrize("logit", [50.0, -50.0])
def test_log_scan_finite_for_a_million_steps_and_extreme_gates(logit):
    """minGRU's log coefficients for gate logits of +-50 over T = 1,000,000 (float32) stay finite."""
    T = 1_000_000
    k = torch.full((1, T, 2), logit)
    k[0, ::2, 1] = -logit  # alternate in the second channel
    log_coeffs = -torch.nn.functional.softplus(k)
    log_values = -torch.nn.functional.softplus(-k) + 0.1
    h = S.parallel_scan_log(log_coeffs, log_values)
    assert torch.isfinite(h).all()
    # The compiled loop on the same recurrence is exact to float32 rounding, even here.
    a, b = log_coeffs.exp(), log_values.exp()
    ref = S.scan_cpu(a.double(), b.double())
    torch.testing.assert_close(S.scan_cpu(a, b).double(), ref, rtol=1e-5, atol=1e-6)


def test_bad_input_raises_value_error():
    a = torch.rand(2, 5, 3)
    with pytest.raises(ValueError, match="same shape"):
        S.scan(a, torch.rand(2, 5, 4))
    with pytest.raises(ValueError, match="same shape"):
        S.scan(a[0], a[0])
    with pytest.raises(ValueError, match="h0 must have shape"):
        S.scan(a, a, torch.rand(2, 4))
    with pytest.raises(ValueError, match="unknown scan backend 'fast'"):
        S.scan(a, a, backend="fast")
    with pytest.raises(ValueError, match="needs CUDA"):
        S.scan(a, a, backend="accelerated")


def test_auto_picks_cpu_kernel_on_cpu():
    assert S.resolve_backend("auto", torch.device("cpu")) == "cpu"
    assert not S.accelerated_available(torch.device("cpu"))


def test_auto_falls_back_to_sequential_without_the_kernel():
    code = (
        "import torch; from minrnn import scan as S, MinGRU\n"
        "assert S.resolve_backend('auto', torch.device('cpu')) == 'sequential'\n"
        "x = torch.randn(2, 5, 3); print(MinGRU(3, 4)(x).shape)\n"
    )
    env = dict(os.environ, MINRNN_DISABLE_NATIVE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "torch.Size([2, 5, 4])" in out.stdout
