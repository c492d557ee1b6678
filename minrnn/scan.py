"""The scan h_t = a_t * h_{t-1} + b_t (Section 2.3), element-wise over channels, on any backend.

``scan(a, b, h0, backend="auto", resets=None)`` with a, b of shape (B, T, C), h0 of shape (B, C) (zeros
when None) returns h of shape (B, T, C), computed by the backend's scan (minrnn.backends):

- ``sequential``: a plain loop over time, the reference every other backend is tested against.
- ``log``: the log-space parallel scan of Appendix B.1 (Heinsen, 2023): Listing 5 within chunks of 64
  steps, chained across chunks, which keeps float32 accurate at any length. Needs a, b, h0 positive,
  which g() guarantees.
- ``cpu``: the compiled CPU kernel (minrnn/ops/csrc/scan.c): a sequential loop in C with an explicit
  reverse recurrence for the backward pass. Any sign; float32/float64 (others upcast).
- ``triton``: the Triton kernel (minrnn/ops/triton_scan.py), the same loop as the CPU kernel, on CUDA
  tensors, or on CPU tensors under ``TRITON_INTERPRET=1`` (how the tests run it).
- any backend added with ``minrnn.backends.register_backend``.

``auto`` picks ``cpu`` on CPU and ``triton`` (else ``log``) on CUDA, warning when it falls back.
``resets`` restarts the state where a new sequence starts (minrnn.resets), on every backend.
The references themselves are in minrnn.ops.reference.
"""

from __future__ import annotations

import torch

from minrnn import backends, checks
from minrnn.ops.reference import LOG_CHUNK, scan_log
from minrnn.resets import reset_coefficients


def scan(
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor | None = None,
    backend: str = "auto",
    resets: torch.Tensor | None = None,
) -> torch.Tensor:
    """h_t = a_t * h_{t-1} + b_t with the chosen backend (see the module docstring). ``resets`` (B, T)
    bool: where True, h_{t-1} is replaced by zeros (a new sequence starts at t; minrnn.resets)."""
    checks.scan_call(a, b, h0)
    b, h0 = b.to(a.dtype), h0.to(a.dtype) if h0 is not None else None  # every backend takes them in a's dtype
    record = backends.get(backend, a.device)
    if resets is not None:
        checks.resets("scan", resets, a.shape[0], a.shape[1], a.device)
        a, b = reset_coefficients(a, b, resets)
    if record.log_space:
        return scan_log(a, b, h0, LOG_CHUNK, record.scan)
    return record.scan(a, b, h0)
