"""The scan h_t = a_t * h_{t-1} + b_t (Section 2.3), element-wise over channels: one function per backend.

Every backend has the signature ``scan_<name>(a, b, h0=None) -> h`` with a, b of shape (B, T, C),
h0 of shape (B, C) (zeros when None) and h of shape (B, T, C), and computes the same thing:

- ``scan_sequential``: a plain loop over time, the reference every other backend is tested against.
- ``scan_log``: the log-space parallel scan of Appendix B.1 (Heinsen, 2023): ``parallel_scan_log``
  (Listing 5) within chunks of 64 steps, chained across chunks (``parallel_scan_log_chunked``),
  which keeps float32 accurate at any length. Needs a, b, h0 positive, which g() guarantees.
- ``scan_cpu``: the compiled CPU kernel (minrnn/csrc/scan.c): a sequential loop in C with an
  explicit reverse recurrence for the backward pass. Any sign; float32/float64 (others upcast).
- ``scan_triton``: the Triton kernel (minrnn/triton_scan.py), the same loop as the CPU kernel, on
  CUDA tensors, or on CPU tensors under ``TRITON_INTERPRET=1`` (how the tests run it).

``scan(a, b, h0, backend="auto")`` picks one: ``cpu`` on CPU when the kernel compiles (else
``sequential``), ``triton`` on CUDA when a test launch works (else ``log``, with one warning that
says why). ``scan(..., resets=...)`` restarts the state where a new sequence starts (minrnn.resets),
on every backend. The MinGRU/MinLSTM layers
use the fused variants of the CPU and Triton kernels, which also compute a and b from the gates.
"""

from __future__ import annotations

import os
import warnings

import torch
import torch.nn.functional as F

from minrnn import native
from minrnn.resets import check_resets, reset_coefficients

BACKENDS = ("sequential", "log", "cpu", "triton")


def parallel_scan_log(log_coeffs: torch.Tensor, log_values: torch.Tensor) -> torch.Tensor:
    """Listing 5: h_{1:T} from log a_{1:T} (B, T, C) and [log h_0, log b_{1:T}] (B, T+1, C).

    Also accepts log b_{1:T} alone (B, T, C), meaning h_0 = 0 (as the official code does: log 0
    would put -inf into logcumsumexp and NaN into its backward). Returns (B, T, C); the listing
    also returns h_0 in front, which we drop. (Its cumsum over ``dim=-1`` is a typo for ``dim=1``.)
    """
    a_star = torch.cumsum(log_coeffs, dim=1)
    if log_values.shape[1] == log_coeffs.shape[1] + 1:
        a_star = F.pad(a_star, (0, 0, 1, 0))
    log_h0_plus_b_star = torch.logcumsumexp(log_values - a_star, dim=1)
    log_h = a_star + log_h0_plus_b_star
    return torch.exp(log_h)[:, -log_coeffs.shape[1] :]


LOG_CHUNK = 64  # steps per chunk of the chunked log-space scan (0: Listing 5 over the whole sequence)
LOG_A_FLOOR = -87.0  # log of float32's smallest normal number: a below it is 0 to float32 anyway


def _log_h(log_coeffs: torch.Tensor, log_values: torch.Tensor) -> torch.Tensor:
    """Listing 5 without its final exp: log h_{1:T} (same inputs as parallel_scan_log)."""
    a_star = torch.cumsum(log_coeffs, dim=1)
    if log_values.shape[1] == log_coeffs.shape[1] + 1:
        a_star = F.pad(a_star, (0, 0, 1, 0))
    return (a_star + torch.logcumsumexp(log_values - a_star, dim=1))[:, -log_coeffs.shape[1] :]


def parallel_scan_log_chunked(log_coeffs: torch.Tensor, log_values: torch.Tensor, chunk: int = LOG_CHUNK):
    """Listing 5 within chunks of ``chunk`` steps, chained across chunks: the same h, in any precision.

    Listing 5 computes h_t = exp(a*_t + log sum_s exp(log b_s - a*_s)) with a*_t = sum log a_{1:t}:
    in float32 the two large terms cancel, so the error grows with |a*_t|, i.e. with T (0.3 relative
    gradient error at T = 65,536; results/core/scan_accuracy.md). Here a* restarts every chunk (all
    chunks at once, in parallel), and the chunk-end states are chained by the same log-space scan over
    T / chunk steps in float64. The error is then bounded by the chunk, not the sequence length.
    log a is floored at LOG_A_FLOOR, so a = 0 and extreme gate logits stay finite and accurate:
    about chunk * 87 * eps relative error in the worst case (3e-4 in float32 at chunk 64).
    """
    B, T, C = log_coeffs.shape
    log_coeffs = log_coeffs.clamp_min(LOG_A_FLOOR)  # a = 0 (log -inf) or extreme gates stay finite
    if chunk <= 0 or T <= chunk:
        return torch.exp(_log_h(log_coeffs, log_values))
    has_h0 = log_values.shape[1] == T + 1
    log_b = log_values[:, 1:] if has_h0 else log_values
    n = -(-T // chunk)
    pad = n * chunk - T  # padded steps at the end (a = 1, b ~ 0) are dropped from the output
    la = F.pad(log_coeffs, (0, 0, 0, pad)).view(B, n, chunk, C)
    lb = F.pad(log_b, (0, 0, 0, pad), value=torch.finfo(log_b.dtype).min / 4).view(B, n, chunk, C)
    a_star = la.cumsum(2)
    log_local = a_star + torch.logcumsumexp(lb - a_star, dim=2)  # log h within each chunk, from h = 0
    ends = log_local[:, :, -1].double()
    values = torch.cat([log_values[:, :1].double(), ends], 1) if has_h0 else ends
    log_end = _log_h(a_star[:, :, -1].double(), values)  # log h at each chunk's end, chained in float64
    first = log_values[:, :1].double() if has_h0 else torch.full_like(ends[:, :1], -torch.inf)
    log_prev = torch.cat([first, log_end[:, :-1]], 1).to(log_local.dtype)  # log h before each chunk
    log_h = torch.logaddexp(log_local, a_star + log_prev.unsqueeze(2))
    return torch.exp(log_h).view(B, n * chunk, C)[:, :T]


def scan_sequential(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The reference: for t in 1..T, h_t = a_t * h_{t-1} + b_t.

    Iterates with unbind (indexing a[:, t] in a loop makes the backward O(T^2)).
    """
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    out = []
    for a_t, b_t in zip(a.unbind(1), b.unbind(1), strict=True):
        h = torch.addcmul(b_t, a_t, h)
        out.append(h)
    return torch.stack(out, dim=1)


def scan_log(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, chunk: int = LOG_CHUNK):
    """Appendix B.1: the scan in log space, chunked (``chunk=0``: Listing 5 as printed). a, b, h0 > 0.

    float16/bfloat16 are computed in float32 (logcumsumexp in half precision loses the state)."""
    dtype = a.dtype
    if a.element_size() < 4:
        a, b, h0 = a.float(), b.float(), (h0.float() if h0 is not None else None)
    log_values = b.log() if h0 is None else torch.cat([h0.log().unsqueeze(1), b.log()], dim=1)
    return parallel_scan_log_chunked(a.log(), log_values, chunk).to(dtype)


def scan_cpu(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The compiled CPU kernel (native.linear_scan). float16/bfloat16 are computed in float32."""
    if a.device.type != "cpu":
        raise ValueError(f"scan backend 'cpu' needs CPU tensors, got {a.device}")
    dtype = a.dtype
    if dtype not in (torch.float32, torch.float64):
        a, b = a.float(), b.float()
        h0 = h0.float() if h0 is not None else None
    return native.linear_scan(a, b, h0).to(dtype)


def scan_triton(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The Triton kernel (minrnn.triton_scan.linear_scan); the state is float32 for half inputs."""
    return triton_kernels(a.device).linear_scan(a, b, h0).to(a.dtype)


def triton_kernels(device: torch.device):
    """minrnn.triton_scan, when Triton can run on ``device``; else one ValueError saying why."""
    if device.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        raise ValueError("scan backend 'triton' runs on CUDA tensors, or on CPU tensors with TRITON_INTERPRET=1")
    try:
        import triton.language as tl

        from minrnn import triton_scan
    except ImportError as e:
        raise ValueError(f"scan backend 'triton' needs `pip install triton` ({e})") from e
    if device.type == "cpu" and type(tl.zeros).__name__ != "InterpretedFunction":
        raise ValueError("TRITON_INTERPRET=1 was set after triton was imported (minrnn imports it); set it first")
    return triton_scan


_TRITON_PROBLEMS: dict[str, str | None] = {}  # device -> why the Triton kernels cannot run there (None: they can)


def _probe_triton(device: torch.device) -> None:
    """Launch the smallest scan once: imports triton, compiles a kernel and builds Triton's launcher
    (Triton 3.x compiles it with a C compiler and the Python headers at the first launch)."""
    from minrnn import triton_scan

    x = torch.ones(1, 1, 1, device=device)
    triton_scan.linear_scan(x, x, None)
    torch.cuda.synchronize(device)


def triton_problem(device: torch.device) -> str | None:
    """None when the Triton kernels run on ``device`` (a CUDA device); else why not. Checked once per device."""
    if device.type != "cuda":
        return f"Triton kernels run on CUDA devices, not {device.type}"
    key = str(device if device.index is not None else torch.device("cuda", torch.cuda.current_device()))
    if key not in _TRITON_PROBLEMS:
        try:
            _probe_triton(torch.device(key))
            _TRITON_PROBLEMS[key] = None
        except Exception as e:  # ImportError, a missing compiler, an unsupported GPU, ...
            first = (str(e).strip().splitlines() or [""])[0][:300]
            _TRITON_PROBLEMS[key] = f"{type(e).__name__}: {first}"
            warnings.warn(
                f"scan='auto' uses the log-space scan on {key}: the Triton kernels cannot run there "
                f"({_TRITON_PROBLEMS[key]})",
                RuntimeWarning,
                stacklevel=2,
            )
    return _TRITON_PROBLEMS[key]


def triton_available(device: torch.device) -> bool:
    """Whether scan='auto' takes the Triton kernels on ``device`` (CUDA, and a test launch worked)."""
    return device.type == "cuda" and triton_problem(device) is None


@torch.compiler.assume_constant_result  # torch.compile calls it once while tracing (it builds the kernel)
def resolve_backend(backend: str, device: torch.device) -> str:
    """Map ``auto`` to the best backend for the device; check a forced one exists."""
    if backend == "auto":
        if device.type == "cuda":
            return "triton" if triton_available(device) else "log"
        return "cpu" if device.type == "cpu" and native.available() else "sequential"
    if backend not in BACKENDS:
        raise ValueError(f"unknown scan backend {backend!r}; choose one of auto, {', '.join(BACKENDS)}")
    return backend


def scan(
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor | None = None,
    backend: str = "auto",
    resets: torch.Tensor | None = None,
) -> torch.Tensor:
    """h_t = a_t * h_{t-1} + b_t with the chosen backend (see the module docstring). ``resets`` (B, T)
    bool: where True, h_{t-1} is replaced by zeros (a new sequence starts at t; minrnn.resets)."""
    if a.dim() != 3 or a.shape != b.shape:
        raise ValueError(f"scan needs a and b of the same shape (B, T, C), got {tuple(a.shape)} and {tuple(b.shape)}")
    if h0 is not None and h0.shape != (a.shape[0], a.shape[2]):
        raise ValueError(f"h0 must have shape (B, C) = {(a.shape[0], a.shape[2])}, got {tuple(h0.shape)}")
    for name, t in (("b", b), ("h0", h0)):  # checked before any kernel runs: a kernel would read garbage
        if t is not None and (t.device != a.device or not t.is_floating_point()):
            raise ValueError(f"scan: {name} must be a floating-point tensor on {a.device}, got {t.dtype} on {t.device}")
    if not a.is_floating_point():
        raise ValueError(f"scan: a must be a floating-point tensor, got {a.dtype}")
    name = resolve_backend(backend, a.device)
    if resets is not None:
        check_resets(resets, a.shape[0], a.shape[1], a.device, "scan")
        a, b = reset_coefficients(a, b, resets)
    return {"sequential": scan_sequential, "log": scan_log, "cpu": scan_cpu, "triton": scan_triton}[name](a, b, h0)
