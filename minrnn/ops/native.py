"""The compiled CPU kernel (csrc/scan.c): build on first use, load through ctypes, wrap in autograd.

The C file has no torch or Python headers, so it builds with the system C compiler in under a
second and needs nothing at install time. The shared library is cached per source, compiler flags
and CPU (``$MINRNN_CACHE``, default ``~/.cache/minrnn``) and written atomically, so parallel jobs
never load a half-written file. Where no compiler works, ``problem()`` says why and
``scan="auto"`` falls back to the pure-PyTorch loop with a warning (minrnn.backends).

ctypes releases the GIL during a call, so the work (batch rows, or channel blocks when the batch
is small) is split over ``torch.get_num_threads()`` Python threads.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from minrnn import checks
from minrnn.backends import MODES
from minrnn.files import atomic_path

SOURCE = Path(__file__).with_name("csrc") / "scan.c"
HEADERS = [SOURCE.with_name(h) for h in ("scan_impl.h", "common.h", "dtypes.h")]
# $MINRNN_CFLAGS adds flags, e.g. "-fsanitize=address" for the AddressSanitizer test (tests/test_native_asan.py)
FLAGS = [
    "-O3",
    "-march=native",
    "-fopenmp-simd",
    "-fno-trapping-math",  # lets gcc if-convert g()'s branch, so the gate loops vectorise (4-6x); same rounding
    "-ffp-contract=fast",  # fused multiply-adds (-std=c99 turns them off): gate kernels 15-25% faster
    "-shared",
    "-fPIC",
    "-std=c99",
    *os.environ.get("MINRNN_CFLAGS", "").split(),
]
_MIN_WORK_PER_THREAD = 1 << 16  # elements (B*T*C); below this one thread is faster

_loaded: dict[Path, ctypes.CDLL | str] = {}  # per source: the library, or why it is unavailable
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _cpu_key() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        flags = ""
    return platform.machine() + flags


def build(source: Path = SOURCE, headers: list[Path] = HEADERS) -> ctypes.CDLL:
    """source (a C file including headers) built into the cache, keyed by all their text, and loaded."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler found (set CC)")
    src = b"".join(f.read_bytes() for f in [source, *headers])
    key = hashlib.sha256(src + " ".join([cc, *FLAGS, _cpu_key()]).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("MINRNN_CACHE", Path.home() / ".cache" / "minrnn"))
    target = cache / f"{source.stem}-{key}.so"
    if not target.exists():
        with atomic_path(target, mode=0o777) as tmp:  # concurrent builders all end with a whole file
            proc = subprocess.run(
                [cc, *FLAGS, "-o", str(tmp), str(source)], capture_output=True, text=True, errors="replace"
            )
            if proc.returncode != 0:
                raise RuntimeError(f"{cc} failed to compile {source}:\n{proc.stderr[-2000:]}")
    return ctypes.CDLL(str(target))


def load_library(source: Path, headers: list[Path], what: str) -> ctypes.CDLL:
    """The library built from source, built on first use (once per process); raises RuntimeError
    saying why ``what`` is unavailable."""
    with _lock:
        if source not in _loaded:
            if os.environ.get("MINRNN_DISABLE_NATIVE"):
                _loaded[source] = "disabled by MINRNN_DISABLE_NATIVE"
            else:
                try:
                    _loaded[source] = build(source, headers)
                except (OSError, RuntimeError) as e:
                    _loaded[source] = str(e)
        if isinstance(_loaded[source], str):
            raise RuntimeError(f"the compiled CPU {what} is unavailable: {_loaded[source]}")
        return _loaded[source]


def load() -> ctypes.CDLL:
    """The kernel library, built if needed; raises RuntimeError saying why it is unavailable."""
    return load_library(SOURCE, HEADERS, "scan")


def problem(loader=load) -> str | None:
    """None when the kernel library (``loader``'s) loads (built on first call); else why not."""
    try:
        loader()
        return None
    except RuntimeError as e:
        return str(e)


@torch.compiler.assume_constant_result  # torch.compile calls it once while tracing (it may build the kernel)
def available() -> bool:
    return problem() is None


def _suffix(dtype: torch.dtype) -> str:
    if dtype == torch.float32:
        return "f32"
    if dtype == torch.float64:
        return "f64"
    raise ValueError(f"the compiled CPU scan supports float32 and float64, not {dtype}")


def _prepare(name: str, shapes: dict[str, tuple], *tensors: torch.Tensor | None) -> tuple:
    """(library, dtype suffix, the tensors made contiguous; None stays None), after refusing, before any
    pointer reaches C, a tensor (named by ``shapes``, in order) whose shape, dtype or device the kernel
    would misread."""
    first = next(t for t in tensors if t is not None)
    for (key, shape), t in zip(shapes.items(), tensors, strict=True):
        if t is None:
            continue
        if t.device.type != "cpu" or t.dtype != first.dtype:
            raise ValueError(f"{name}: {key} must be a CPU tensor of {first.dtype}, got {t.dtype} on {t.device}")
        if tuple(t.shape) != shape:
            raise ValueError(f"{name}: {key} must have shape {shape}, got {tuple(t.shape)}")
    return load(), _suffix(first.dtype), [t if t is None else t.contiguous() for t in tensors]


def _c(arg):
    """A ctypes argument: a tensor (or None) as its data pointer, a Python int as int64 (C ``int``s
    such as mode and use_g, and doubles, are passed as ctypes values already)."""
    if arg is None or isinstance(arg, torch.Tensor):
        return ctypes.c_void_p(arg.data_ptr() if arg is not None else 0)
    return arg if isinstance(arg, (ctypes.c_int, ctypes.c_double)) else ctypes.c_int64(arg)


def _run(fn, B: int, T: int, C: int, args_for, scratch_like: torch.Tensor) -> None:
    """Split (batch, channel) ranges over threads and call fn(*args_for(b0, b1, c0, c1, scratch)).

    Each job gets its own scratch of 2 x C elements (a zero row and the backward's carry), kept
    alive here until the call returns.
    """
    n = max(1, min(torch.get_num_threads(), (B * T * C) // _MIN_WORK_PER_THREAD))
    if n == 1:
        jobs = [(0, B, 0, C)]
    elif B >= n:  # batch rows
        cuts = [B * i // n for i in range(n + 1)]
        jobs = [(cuts[i], cuts[i + 1], 0, C) for i in range(n)]
    else:  # channel blocks, kept multiples of 16 for vectorisation
        step = -(-C // (n * 16)) * 16
        jobs = [(0, B, c, min(C, c + step)) for c in range(0, C, step)]
    scratch = [scratch_like.new_empty(2, C) for _ in jobs]
    _call_all(fn, [args_for(*job, s) for job, s in zip(jobs, scratch, strict=True)])


def _call_all(fn, calls: list[tuple]) -> None:
    """fn(*args) for each args in calls: directly if one, else on the thread pool (ctypes drops the GIL)."""
    global _pool
    calls = [tuple(map(_c, c)) for c in calls]
    if len(calls) == 1:
        fn(*calls[0])
        return
    if _pool is None or _pool._max_workers < len(calls):
        _pool = ThreadPoolExecutor(max_workers=max(len(calls), torch.get_num_threads()))
    for f in [_pool.submit(fn, *c) for c in calls]:
        f.result()


# The kernels are operators torch knows (torch.library.custom_op): each call allocates and owns the
# buffers the C code writes (outputs, per-thread scratch) until it returns, so torch.compile (which
# decides tensor lifetimes for the code it traces) treats them as opaque ops with a fake (shape-only)
# implementation and a registered backward, and `torch.compile(model, fullgraph=True)` works.


@torch.library.custom_op("minrnn::linear_scan", mutates_args=())
def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
    """h_t = a_t * h_{t-1} + b_t over (B, T, C); a, b any sign; h0 (B, C) or None (zeros)."""
    if a.dim() != 3:
        raise ValueError(f"linear_scan: a must have shape (B, T, C), got {tuple(a.shape)}")
    B, T, C = a.shape
    lib, suf, (a, b, h0) = _prepare("linear_scan", {"a": (B, T, C), "b": (B, T, C), "h0": (B, C)}, a, b, h0)
    h = torch.empty_like(a)

    def args(b0, b1, c0, c1, scratch):
        return (b0, b1, c0, c1, T, a, T * C, C, b, T * C, C, h0, C, h, T * C, C, scratch[0])

    _run(getattr(lib, f"scan_fwd_{suf}"), B, T, C, args, a)
    return h


@torch.library.custom_op("minrnn::linear_scan_backward", mutates_args=())
def linear_scan_backward(
    a: torch.Tensor, h0: torch.Tensor | None, h: torch.Tensor, gh: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dL/da, dL/db, dL/dh0; the last empty when h0 is None) by the reverse recurrence."""
    B, T, C = a.shape
    shapes = {"a": (B, T, C), "h0": (B, C), "h": (B, T, C), "gh": (B, T, C)}
    lib, suf, (a, h0, h, gh) = _prepare("linear_scan_backward", shapes, a, h0, h, gh)
    ga, gb = torch.empty_like(a), torch.empty_like(a)
    gh0 = torch.empty_like(h0) if h0 is not None else a.new_empty(0)

    def args(b0, b1, c0, c1, scratch):
        tensors = (a, T * C, C, h0, C, h, T * C, C, gh, T * C, C, ga, gb, T * C, C)
        return (b0, b1, c0, c1, T, *tensors, gh0 if h0 is not None else None, C, scratch[1], scratch[0])

    _run(getattr(lib, f"scan_bwd_{suf}"), B, T, C, args, a)
    return ga, gb, gh0


@torch.library.custom_op("minrnn::gate_scan", mutates_args=())
def gate_scan(
    p: torch.Tensor,
    h0: torch.Tensor | None,
    mode: str,
    use_g: bool,
    bias: torch.Tensor | None = None,
    resets: torch.Tensor | None = None,
) -> torch.Tensor:
    """Fused minGRU/minLSTM scan on the Linear outputs p (B, T, P), P = 2H (GRU) or 3H (LSTM) -> h (B, T, H).

    Channel layout of p: [gate | candidate] for minGRU (gate = k of linear_z), and
    [forget | input | candidate] for minLSTM. ``bias`` (P,), if given, is added to p inside the
    kernel: p = x W^T without a bias is one pass over memory fewer than addmm's copy of the bias.
    ``resets`` (B, T) bool or uint8: where set, the state before t is zeros (minrnn.resets), in the kernel.
    """
    B, T, P = _gate_shape(p, mode)
    H, (off_i, off_h) = _gate_layout(P, mode)
    r = checks.kernel_resets("gate_scan", resets, B, T, p.device)
    lib, suf, (p, h0, q) = _prepare("gate_scan", {"p": (B, T, P), "h0": (B, H), "bias": (P,)}, p, h0, bias)
    q = q if q is not None else p.new_zeros(P)
    h = p.new_empty(B, T, H)
    variant = (ctypes.c_int(MODES[mode]), ctypes.c_int(use_g), off_i, off_h)

    def args(b0, b1, c0, c1, scratch):
        return (b0, b1, c0, c1, T, *variant, p, T * P, P, q, h0, H, r, T, h, T * H, H, scratch[0])

    _run(getattr(lib, f"gate_fwd_{suf}"), B, T, H, args, p)
    return h


@torch.library.custom_op("minrnn::gate_scan_backward", mutates_args=())
def gate_scan_backward(
    p: torch.Tensor,
    h0: torch.Tensor | None,
    h: torch.Tensor,
    gh: torch.Tensor,
    mode: str,
    use_g: bool,
    bias: torch.Tensor | None = None,
    resets: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dL/dp, dL/dh0, dL/dbias; dL/dh0 empty when h0 is None), gates recomputed from p, not stored."""
    B, T, P = _gate_shape(p, mode)
    H, (off_i, off_h) = _gate_layout(P, mode)
    r = checks.kernel_resets("gate_scan_backward", resets, B, T, p.device)
    shapes = {"p": (B, T, P), "h0": (B, H), "h": (B, T, H), "gh": (B, T, H), "bias": (P,)}
    lib, suf, (p, h0, h, gh, q) = _prepare("gate_scan_backward", shapes, p, h0, h, gh, bias)
    q = q if q is not None else p.new_zeros(P)
    gp = torch.empty_like(p)
    gh0 = torch.empty_like(h0) if h0 is not None else p.new_empty(0)
    variant = (ctypes.c_int(MODES[mode]), ctypes.c_int(use_g), off_i, off_h)
    partial_gq = []

    def args(b0, b1, c0, c1, scratch):
        gq = p.new_zeros(P)  # one partial bias gradient per job, summed below
        partial_gq.append(gq)
        tensors = (p, T * P, P, q, gq, h0, H, r, T, h, T * H, H, gh, T * H, H, gp, T * P, P)
        return (b0, b1, c0, c1, T, *variant, *tensors, gh0 if h0 is not None else None, H, scratch[1], scratch[0])

    _run(getattr(lib, f"gate_bwd_{suf}"), B, T, H, args, p)
    return gp, gh0, torch.stack(partial_gq).sum(0)


def _gate_shape(p: torch.Tensor, mode: str) -> tuple[int, int, int]:
    """(B, T, P) of the Linear outputs, P a multiple of 2 (gru) or 3 (lstm, lstm_norm)."""
    if mode not in MODES:
        raise ValueError(f"gate_scan: mode must be one of {', '.join(MODES)}, got {mode!r}")
    parts = 2 if mode == "gru" else 3
    if p.dim() != 3 or p.shape[-1] % parts:
        raise ValueError(f"gate_scan: p must have shape (B, T, {parts} * H) for mode {mode}, got {tuple(p.shape)}")
    return tuple(p.shape)


def _gate_layout(P: int, mode: str) -> tuple[int, tuple[int, int]]:
    """H and the channel offsets of the input gate and the candidate in p."""
    H = P // (2 if mode == "gru" else 3)
    return H, ((0, H) if mode == "gru" else (H, 2 * H))


# The fakes give what the real ops return: new contiguous tensors, whatever the inputs' strides
# (empty_like would copy a strided input's layout, and compiled code checks the strides it was told).
def _new(t: torch.Tensor, shape=None) -> torch.Tensor:
    return t.new_empty(t.shape if shape is None else shape)


@linear_scan.register_fake
def _(a, b, h0):
    return _new(a)


@linear_scan_backward.register_fake
def _(a, h0, h, gh):
    return _new(a), _new(a), _new(h0) if h0 is not None else a.new_empty(0)


@gate_scan.register_fake
def _(p, h0, mode, use_g, bias=None, resets=None):
    return p.new_empty(*p.shape[:-1], _gate_layout(p.shape[-1], mode)[0])


@gate_scan_backward.register_fake
def _(p, h0, h, gh, mode, use_g, bias=None, resets=None):
    gh0 = _new(h0) if h0 is not None else p.new_empty(0)
    return _new(p), gh0, p.new_empty(p.shape[-1])


def _save_linear(ctx, inputs, output):
    a, b, h0 = inputs
    ctx.save_for_backward(a, h0, output)


def _linear_backward(ctx, gh):
    a, h0, h = ctx.saved_tensors
    ga, gb, gh0 = linear_scan_backward(a, h0, h, gh)
    return ga, gb, gh0 if h0 is not None else None


def _save_gate(ctx, inputs, output):
    p, h0, mode, use_g, bias, resets = inputs
    ctx.save_for_backward(p, h0, output, bias, resets)
    ctx.mode, ctx.use_g = mode, use_g


def _gate_backward(ctx, gh):
    p, h0, h, bias, resets = ctx.saved_tensors
    gp, gh0, gbias = gate_scan_backward(p, h0, h, gh, ctx.mode, ctx.use_g, bias, resets)
    return gp, gh0 if h0 is not None else None, None, None, gbias if bias is not None else None, None


linear_scan.register_autograd(_linear_backward, setup_context=_save_linear)
gate_scan.register_autograd(_gate_backward, setup_context=_save_gate)


S6_CHUNK = 64  # steps between the states the S6 forward keeps for its backward (csrc s6_fwd)


@torch.library.custom_op("minrnn::selective_scan", mutates_args=())
def selective_scan(
    u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, Bm: torch.Tensor, Cm: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mamba's S6 scan, fused (csrc s6_fwd/s6_bwd): u, delta (B, L, D); A (D, N); Bm, Cm (B, L, N).

    Returns y (B, L, D) with y_t = sum_n C_t[n] h_t[n], h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t,
    and the state at the end of every S6_CHUNK steps, (B, ceil(L / S6_CHUNK), D, N) (the last is the
    final state): the backward recomputes the rest, so no (B, L, D, N) buffer is ever built.
    """
    if u.dim() != 3 or A.dim() != 2:
        raise ValueError(f"S6: u must be (B, L, D) and A (D, N), got {tuple(u.shape)} and {tuple(A.shape)}")
    (B, L, D), N, K = u.shape, A.shape[1], S6_CHUNK
    shapes = {"u": (B, L, D), "delta": (B, L, D), "A": (D, N), "Bm": (B, L, N), "Cm": (B, L, N)}
    lib, suf, (u, delta, A, Bm, Cm) = _prepare("S6", shapes, u, delta, A, Bm, Cm)
    y, hc = u.new_empty(B, L, D), u.new_empty(B, -(-L // K), D, N)
    fn = getattr(lib, f"s6_fwd_{suf}")
    _run_rows(
        fn, B, L * D * N, lambda b0, b1, s: (b0, b1, L, D, N, K, u, delta, A, Bm, Cm, y, hc, s), u.new_empty(D * N)
    )
    return y, hc


@selective_scan.register_fake
def _(u, delta, A, Bm, Cm):
    B, L, D = u.shape
    return u.new_empty(u.shape), u.new_empty(B, -(-L // S6_CHUNK), D, A.shape[1])


@torch.library.custom_op("minrnn::selective_scan_backward", mutates_args=())
def selective_scan_backward(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    Bm: torch.Tensor,
    Cm: torch.Tensor,
    hc: torch.Tensor,
    gy: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    if u.dim() != 3 or A.dim() != 2:
        raise ValueError(f"S6 backward: u must be (B, L, D) and A (D, N), got {tuple(u.shape)} and {tuple(A.shape)}")
    (B, L, D), N, K = u.shape, A.shape[1], S6_CHUNK
    shapes = {"u": (B, L, D), "delta": (B, L, D), "A": (D, N), "Bm": (B, L, N), "Cm": (B, L, N)}
    shapes |= {"hc": (B, -(-L // K), D, N), "gy": (B, L, D)}
    lib, suf, (u, delta, A, Bm, Cm, hc, gy) = _prepare("S6 backward", shapes, u, delta, A, Bm, Cm, hc, gy)
    gu, gdelta = torch.empty_like(u), torch.empty_like(u)
    gB, gC = torch.zeros_like(Bm), torch.zeros_like(Cm)
    fn = getattr(lib, f"s6_bwd_{suf}")
    partial_gA = []

    def args(b0, b1, scratch):
        gA = torch.zeros_like(A)  # one partial sum per job: no two threads add into the same buffer
        partial_gA.append(gA)
        return (b0, b1, L, D, N, K, u, delta, A, Bm, Cm, hc, gy, gu, gdelta, gA, gB, gC, scratch)

    _run_rows(fn, B, L * D * N, args, u.new_empty((K + 1) * D * N))  # a chunk's states, then the carry
    return gu, gdelta, torch.stack(partial_gA).sum(0), gB, gC


@selective_scan_backward.register_fake
def _(u, delta, A, Bm, Cm, hc, gy):
    return _new(u), _new(u), _new(A), _new(Bm), _new(Cm)


def _save_s6(ctx, inputs, output):
    ctx.save_for_backward(*inputs, output[1])


def _s6_backward(ctx, gy, ghs):
    return selective_scan_backward(*ctx.saved_tensors, gy if gy is not None else torch.zeros_like(ctx.saved_tensors[0]))


selective_scan.register_autograd(_s6_backward, setup_context=_save_s6)


def _run_rows(fn, B: int, work_per_row: int, args_for, scratch_like: torch.Tensor) -> None:
    """Split batch rows over threads; each job gets its own scratch like scratch_like."""
    n = max(1, min(torch.get_num_threads(), B, (B * work_per_row) // _MIN_WORK_PER_THREAD))
    cuts = [B * i // n for i in range(n + 1)]
    jobs = [(cuts[i], cuts[i + 1]) for i in range(n)]
    scratch = [torch.empty_like(scratch_like) for _ in jobs]
    _call_all(fn, [args_for(b0, b1, s) for (b0, b1), s in zip(jobs, scratch, strict=True)])


@torch.library.custom_op("minrnn::rms_norm", mutates_args=())
def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """RMSNorm over the last dimension (csrc rms_fwd): y = x / sqrt(mean(x^2) + eps) * weight, with
    the per-row 1 / sqrt(mean(x^2) + eps) (x.shape[:-1]) kept for the backward."""
    D = x.shape[-1] if x.dim() else 0
    lib, suf, (x, weight) = _prepare("rms_norm", {"x": tuple(x.shape), "weight": (D,)}, x, weight)
    y, rstd = torch.empty_like(x), x.new_empty(x.shape[:-1])
    fn, eps_c = getattr(lib, f"rms_fwd_{suf}"), ctypes.c_double(eps)
    _run_rows(fn, rstd.numel(), D, lambda r0, r1, s: (r0, r1, D, eps_c, x, weight, y, rstd), x.new_empty(0))
    return y, rstd


@rms_norm.register_fake
def _(x, weight, eps):
    return _new(x), x.new_empty(x.shape[:-1])


@torch.library.custom_op("minrnn::rms_norm_backward", mutates_args=())
def rms_norm_backward(
    x: torch.Tensor, weight: torch.Tensor, rstd: torch.Tensor, gy: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(dL/dx, dL/dweight) of rms_norm, one pass over x and gy (csrc rms_bwd)."""
    D = x.shape[-1]
    shapes = {"x": tuple(x.shape), "weight": (D,), "rstd": tuple(x.shape[:-1]), "gy": tuple(x.shape)}
    lib, suf, (x, weight, rstd, gy) = _prepare("rms_norm_backward", shapes, x, weight, rstd, gy)
    gx, partial_gw = torch.empty_like(x), []

    def args(r0, r1, gw):
        partial_gw.append(gw)  # one partial sum per job, summed below
        return (r0, r1, D, x, weight, rstd, gy, gx, gw)

    _run_rows(getattr(lib, f"rms_bwd_{suf}"), rstd.numel(), D, args, weight)
    return gx, torch.stack(partial_gw).sum(0)


@rms_norm_backward.register_fake
def _(x, weight, rstd, gy):
    return _new(x), _new(weight)


def _save_rms(ctx, inputs, output):
    x, weight, _ = inputs
    ctx.save_for_backward(x, weight, output[1])


def _rms_backward(ctx, gy, grstd):
    gx, gw = rms_norm_backward(*ctx.saved_tensors, gy)
    return gx, gw, None


rms_norm.register_autograd(_rms_backward, setup_context=_save_rms)
