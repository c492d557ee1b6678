import os

# Triton reads TRITON_INTERPRET when triton.language is imported (minrnn's import does that): set here,
# before anything imports torch or minrnn, the Triton kernels run in the interpreter on CPU tensors.
os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest
import torch
from hypothesis import settings

# Property-based tests (Hypothesis): a modest count in `make test`, many more in `make fuzz`.
settings.register_profile("ci", max_examples=100, deadline=None)
settings.register_profile("fuzz", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Under pytest-xdist (make test: two workers on two cores) each worker, and the training processes its
# tests start, runs torch on one thread: two workers of two threads each oversubscribe the cores, and
# torch's spinning threads made some tests 8x slower than alone. Tests of the thread split set their own.
ONE_THREAD = "PYTEST_XDIST_WORKER" in os.environ
if ONE_THREAD:
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    if ONE_THREAD:
        torch.set_num_threads(1)


def positive_inputs(B, T, C, dtype=torch.float64):
    """Coefficients in (0.05, 0.95) and positive values: valid for every backend, log included."""
    a = torch.rand(B, T, C, dtype=dtype) * 0.9 + 0.05
    b = torch.rand(B, T, C, dtype=dtype) + 0.1
    h0 = torch.rand(B, C, dtype=dtype) + 0.1
    return a, b, h0
