"""The scan backends as one table: what each can do, where it runs, and which ``scan="auto"`` takes.

A backend is a record (``Backend``) with
- ``scan``: the generic scan h_t = a_t h_{t-1} + b_t (Section 2.3), ``scan(a, b, h0) -> h`` on a, b (B, T, C)
  and h0 (B, C) or None, h in a's dtype; for a log-space backend, ``scan(log_a, log_b, log_h0, chunk) -> h``
  on logs (Appendix B.1; minrnn.ops.reference.log_scan);
- ``gate_scan`` (optional): the fused minGRU/minLSTM recurrence from the Linear outputs,
  ``gate_scan(p, h0, mode, log_space, bias, resets) -> h`` with a float32 (float64) state
  (minrnn.ops.reference.gate_scan is its reference);
- ``fused_resets``: whether ``gate_scan`` applies ``resets`` (B, T) itself (the state before a reset is
  zeros); a backend without it gets resets as a change of coefficients on its generic scan (minrnn.resets);
- ``adds_bias``: whether the layers hand ``gate_scan`` p without the bias (the kernel adds it in the state's
  precision as it reads p, one pass over memory fewer) or p as the Linear layers compute it (bias None);
- ``log_space``: whether ``scan`` takes logs (then a, b and h0 must be positive: log-space layers only);
- ``unavailable(device)``: why it cannot run on a device, or None.

The layers ask a backend "fused gate scan? log-space? else generic" (minrnn.layers); resets run in the
fused gate scan where the backend says ``fused_resets``, else through its generic scan (minrnn.resets).
``register_backend`` adds one (docs/extending.md). ``auto`` resolves once per device: the first backend
preferred for the device type that can run there, else ``sequential``; every fallback warns once, with the
reason and the cost.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch

from minrnn import checks
from minrnn.ops import reference

MODES = {"gru": 0, "lstm": 1, "lstm_norm": 2}  # the fused recurrences, as the kernels number them


@dataclass(frozen=True)
class Backend:
    name: str
    scan: Callable
    gate_scan: Callable | None = None
    log_space: bool = False
    adds_bias: bool = True
    unavailable: Callable[[torch.device], str | None] = lambda device: None
    fused_resets: bool = False
    cost: str = ""  # what running on it costs against the fast kernels, said when auto falls back to it


BACKENDS: dict[str, Backend] = {}
_AUTO: dict[str, list[str]] = {}  # device type -> backends auto prefers there, best first (then sequential)
_RESOLVED: dict[tuple[str, bool], str] = {}  # (device, any_sign) -> what auto chose


def register_backend(
    name: str,
    scan: Callable,
    gate_scan: Callable | None = None,
    *,
    log_space: bool = False,
    adds_bias: bool = True,
    unavailable: Callable[[torch.device], str | None] | None = None,
    auto: tuple[str, ...] = (),
    cost: str = "",
    fused_resets: bool = False,
) -> Backend:
    """Add (or replace) the backend ``name``; ``auto``: device types ("cpu", "cuda") where ``scan="auto"``
    prefers it to the backends registered before it."""
    if name == "auto":
        raise ValueError("'auto' is not a backend: it names the choice among them")
    why_not = unavailable or (lambda device: None)
    record = Backend(name, scan, gate_scan, log_space, adds_bias, why_not, fused_resets, cost)
    BACKENDS[name] = record
    for kind in auto:
        _AUTO[kind] = [name] + [n for n in _AUTO.get(kind, []) if n != name]
    _RESOLVED.clear()
    return record


def check_name(name: str) -> None:
    """One ValueError for a name that is neither ``auto`` nor a registered backend."""
    if name != "auto" and name not in BACKENDS:
        raise checks.ArgumentError(f"unknown scan backend {name!r}; choose one of auto, {', '.join(BACKENDS)}")


@torch.compiler.assume_constant_result  # torch.compile calls it once while tracing (it may build a kernel)
def resolve(name: str, device: torch.device, any_sign: bool = False) -> str:
    """The backend ``name`` names on ``device``: itself, or for ``auto`` the device's choice (cached).
    ``any_sign``: the values can be negative (vanilla layers), so log-space backends are not candidates."""
    check_name(name)
    if name != "auto":
        return name
    key = (_device_key(device), any_sign)
    if key not in _RESOLVED:
        _RESOLVED[key] = _choose(torch.device(key[0]), any_sign)
    return _RESOLVED[key]


def get(name: str, device: torch.device, any_sign: bool = False) -> Backend:
    """The record ``resolve`` picks."""
    return BACKENDS[resolve(name, device, any_sign)]


def _device_key(device: torch.device) -> str:
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return str(device)


def _choose(device: torch.device, any_sign: bool) -> str:
    skipped = []
    for name in _AUTO.get(device.type, []):
        record = BACKENDS[name]
        if any_sign and record.log_space:
            continue
        why = record.unavailable(device)
        if why is None:
            break
        skipped.append(f"{name!r} cannot run there ({why})")
    else:
        name = "sequential"
    if skipped:
        warnings.warn(
            f"scan='auto' on {device} uses {name!r}: {'; '.join(skipped)}. Cost: {BACKENDS[name].cost}",
            RuntimeWarning,
            stacklevel=4,
        )
    return name


# ---- the built-in backends ---------------------------------------------------------------------------------


def triton_kernels(device: torch.device):
    """minrnn.ops.triton_scan, when Triton can run on ``device``; else one ValueError saying why."""
    if device.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        raise ValueError("scan backend 'triton' runs on CUDA tensors, or on CPU tensors with TRITON_INTERPRET=1")
    try:
        import triton.language as tl

        from minrnn.ops import triton_scan
    except ImportError as e:
        raise ValueError(f"scan backend 'triton' needs `pip install triton` ({e})") from e
    if device.type == "cpu" and type(tl.zeros).__name__ != "InterpretedFunction":
        raise ValueError("TRITON_INTERPRET=1 was set after triton was imported (minrnn imports it); set it first")
    return triton_scan


def _probe_triton(device: torch.device) -> None:
    """Launch the smallest scan once: imports triton, compiles a kernel and builds Triton's launcher
    (Triton 3.x compiles it with a C compiler and the Python headers at the first launch)."""
    from minrnn.ops import triton_scan

    x = torch.ones(1, 1, 1, device=device)
    triton_scan.linear_scan(x, x, None)
    torch.cuda.synchronize(device)


def triton_problem(device: torch.device) -> str | None:
    """None when the Triton kernels run on ``device`` (a CUDA device, where a test launch worked); else why not."""
    if device.type != "cuda":
        return f"Triton kernels run on CUDA devices, not {device.type}"
    try:
        major, minor = torch.cuda.get_device_capability(device)
        if major < 7:  # a P100 (6.0) compiles and may launch, but Triton supports 7.0 and up only
            raise RuntimeError(f"Triton supports compute capability 7.0 and up, this GPU is {major}.{minor}")
        _probe_triton(device)
    except Exception as e:  # ImportError, a missing compiler, an unsupported GPU, ...
        first = (str(e).strip().splitlines() or [""])[0][:300]
        return f"{type(e).__name__}: {first}"
    return None


def _cpu_problem(device: torch.device) -> str | None:
    if device.type != "cpu":
        return f"the compiled kernel runs on CPU tensors, not {device.type}"
    from minrnn.ops import native

    return native.problem()


def _cpu_dtype(t: torch.Tensor) -> torch.dtype:
    """The C kernels compute in float32 or float64: half types are upcast."""
    return t.dtype if t.dtype in (torch.float32, torch.float64) else torch.float32


def _to(t: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    return t.to(dtype) if t is not None else None


def scan_cpu(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The compiled CPU kernel (minrnn.ops.native.linear_scan). float16/bfloat16 are computed in float32."""
    if a.device.type != "cpu":
        raise ValueError(f"scan backend 'cpu' needs CPU tensors, got {a.device}")
    from minrnn.ops import native

    dtype = _cpu_dtype(a)
    return native.linear_scan(a.to(dtype), b.to(dtype), _to(h0, dtype)).to(a.dtype)


def gate_scan_cpu(p, h0, mode: str, log_space: bool, bias=None, resets=None) -> torch.Tensor:
    """The fused compiled CPU kernel (minrnn.ops.native.gate_scan); half types computed in float32."""
    from minrnn.ops import native

    dtype = _cpu_dtype(p)
    return native.gate_scan(p.to(dtype), _to(h0, dtype), mode, log_space, _to(bias, dtype), resets)


def scan_triton(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The Triton kernels, by shape: the loop (minrnn.ops.triton_scan.linear_scan), or for long T and few
    programs the chunked scan (minrnn.ops.triton_chunked); the state is float32 for half inputs."""
    kernels = triton_kernels(a.device)
    from minrnn.ops import triton_chunked

    run = triton_chunked.chunked_scan if triton_chunked.use_chunked(*a.shape) else kernels.linear_scan
    return run(a, b, h0).to(a.dtype)


def gate_scan_triton(p, h0, mode: str, log_space: bool, bias=None, resets=None) -> torch.Tensor:
    """The fused Triton kernels, by shape: the loop (minrnn.ops.triton_scan.gate_scan), or for long T and few
    programs the same recurrence in chunks (minrnn.ops.triton_chunked.chunked_gate_scan); a float32
    (float64) state."""
    kernels = triton_kernels(p.device)
    from minrnn.ops import triton_chunked

    B, T, P = p.shape
    chunked = triton_chunked.use_chunked(B, T, P // (2 if mode == "gru" else 3))
    return (triton_chunked.chunked_gate_scan if chunked else kernels.gate_scan)(p, h0, mode, log_space, bias, resets)


register_backend(
    "sequential",
    reference.scan_sequential,
    cost="a Python loop over time, about 10x slower than the compiled kernel on CPU, far more on a GPU",
)
register_backend(
    "log",
    reference.log_scan,
    log_space=True,
    auto=("cuda",),
    cost="the log-space scan (Listing 5, chunked) moves many times the bytes of the Triton loop",
)
register_backend("cpu", scan_cpu, gate_scan_cpu, unavailable=_cpu_problem, auto=("cpu",), fused_resets=True)
# adds_bias=False: the Triton kernels read p as F.linear rounds it under autocast (gpu_check's rounded reference)
register_backend(
    "triton",
    scan_triton,
    gate_scan_triton,
    adds_bias=False,
    unavailable=triton_problem,
    auto=("cuda",),
    fused_resets=True,
)
