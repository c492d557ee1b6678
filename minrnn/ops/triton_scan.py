"""Triton kernels for the scan (Section 2.3) and the fused minGRU/minLSTM recurrence, as torch ops.

The same design as the C kernel (minrnn/ops/csrc/scan_impl.h): one program per (batch row, block of
channels) loops over time, channels in parallel, the state in float32 (float64 for float64 inputs)
whatever the input dtype (float32, bfloat16, float16); the backward runs the reverse recurrence
g_t = dL/dh_t + a_{t+1} g_{t+1} and recomputes the gates from the Linear outputs instead of storing
them; gradients are stored in the inputs' dtypes (no extra pass to cast them). The loop is
latency-bound, not memory-bound: each step is one global-memory round trip, and at the paper's
batch 64 x width 128 only 64 programs run (an H100 has 132 SMs). minrnn.ops.triton_chunked runs the
generic scan and this recurrence in chunks of T in parallel; the triton backend takes it for long T and
few programs.

Runs on CUDA tensors, and on CPU tensors under ``TRITON_INTERPRET=1`` (how the tests run it).
Launch configs are chosen here, without ``@triton.autotune`` (the interpreter cannot benchmark).
Ops: ``minrnn::triton_linear_scan(a, b, h0)`` and ``minrnn::triton_gate_scan(p, h0, mode, use_g, bias,
resets)`` (the signatures of the C kernels, minrnn.ops.native; a reset zeroes the state before its step),
each with a registered backward and a fake implementation, so ``torch.compile(fullgraph=True)`` sees
them as operators. Importing this module needs ``triton``; nothing else in minrnn imports it eagerly.
"""

from __future__ import annotations

import contextlib

import torch
import triton
import triton.language as tl

from minrnn import checks
from minrnn.backends import MODES


def _block(channels: int) -> int:
    return max(16, min(128, triton.next_power_of_2(channels)))


@triton.jit
def _cand(x, USE_G: tl.constexpr):
    """h~ = g(x) (Appendix B: x + 0.5 for x >= 0, sigmoid(x) otherwise) or x (Appendix A)."""
    if USE_G:
        return tl.where(x >= 0, x + 0.5, tl.sigmoid(x))
    return x


@triton.jit
def _dcand(x, USE_G: tl.constexpr):
    if USE_G:
        s = tl.sigmoid(x)
        return tl.where(x >= 0, 1.0, s * (1.0 - s))
    return tl.full(x.shape, 1.0, x.dtype)


@triton.jit
def _initial(h0, m, HAS_H0: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    """The state before t = 0: h0's row where given, else zeros."""
    if HAS_H0:
        return tl.load(h0, mask=m, other=0.0).to(ACC)
    return tl.zeros([BLOCK], ACC)


@triton.jit
def _scan_fwd(a_ptr, b_ptr, h0_ptr, h_ptr, T, C, HAS_H0: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    """a, b, h: contiguous (B, T, C); one program per (batch row, block of channels)."""
    row, c = tl.program_id(0).to(tl.int64), tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)  # 64-bit offsets
    m = c < C
    h = _initial(h0_ptr + row * C + c, m, HAS_H0, ACC, BLOCK)
    for t in range(T):
        at = tl.load(a_ptr + (row * T + t) * C + c, mask=m, other=0.0).to(ACC)
        bt = tl.load(b_ptr + (row * T + t) * C + c, mask=m, other=0.0).to(ACC)
        h = at * h + bt
        tl.store(h_ptr + (row * T + t) * C + c, h, mask=m)


@triton.jit
def _scan_bwd_step(a_ptr, gh_ptr, ga_ptr, gb_ptr, at, m, prev, carry, ACC: tl.constexpr):
    """One reverse step at offsets ``at``: g = dL/dh_t + carry; dL/da_t = g h_{t-1}, dL/db_t = g; new carry g a_t."""
    g = tl.load(gh_ptr + at, mask=m, other=0.0).to(ACC) + carry
    tl.store(ga_ptr + at, g * prev, mask=m)
    tl.store(gb_ptr + at, g, mask=m)
    return g * tl.load(a_ptr + at, mask=m, other=0.0).to(ACC)


@triton.jit
def _scan_bwd(
    a_ptr,
    h0_ptr,
    h_ptr,
    gh_ptr,
    ga_ptr,
    gb_ptr,
    gh0_ptr,
    T,
    C,
    HAS_H0: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK: tl.constexpr,
):
    row, c = tl.program_id(0).to(tl.int64), tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)  # 64-bit offsets
    m = c < C
    carry = tl.zeros([BLOCK], ACC)
    for i in range(T - 1):  # t = T-1 .. 1, then t = 0 with h0 as the previous state
        t = T - 1 - i
        prev = tl.load(h_ptr + (row * T + t - 1) * C + c, mask=m, other=0.0).to(ACC)
        carry = _scan_bwd_step(a_ptr, gh_ptr, ga_ptr, gb_ptr, (row * T + t) * C + c, m, prev, carry, ACC)
    first = _initial(h0_ptr + row * C + c, m, HAS_H0, ACC, BLOCK)  # after the loop: a register less inside it
    carry = _scan_bwd_step(a_ptr, gh_ptr, ga_ptr, gb_ptr, row * T * C + c, m, first, carry, ACC)
    tl.store(gh0_ptr + row * C + c, carry, mask=m)


@triton.jit
def _layout(H, MODE: tl.constexpr):
    """(P, offset of the input gate, offset of the candidate) of p's channels: [k | h~] or [f | i | h~]."""
    if MODE == 0:
        return 2 * H, H, H
    return 3 * H, H, 2 * H


@triton.jit
def _kept(h, r_ptr, at, HAS_RESETS: tl.constexpr):
    """h, or zeros where the resets (B, T) uint8 at offset ``at`` say a new sequence starts (minrnn.resets)."""
    if HAS_RESETS:
        return tl.where(tl.load(r_ptr + at) == 0, h, 0.0)
    return h


@triton.jit
def _gate_fwd(
    p_ptr,
    q_ptr,
    h0_ptr,
    r_ptr,
    h_ptr,
    T,
    H,
    HAS_H0: tl.constexpr,
    HAS_RESETS: tl.constexpr,
    MODE: tl.constexpr,
    USE_G: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """p: contiguous (B, T, P) Linear outputs without their bias q (P,) (in ACC), added as p is read;
    h: contiguous (B, T, H); r: contiguous (B, T) uint8 resets (HAS_RESETS)."""
    row, c = tl.program_id(0).to(tl.int64), tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)  # 64-bit offsets
    m = c < H
    P, OFF_I, OFF_X = _layout(H, MODE)
    qk, qi, qx = _bias(q_ptr, c, m, OFF_I, OFF_X, MODE)
    h = _initial(h0_ptr + row * H + c, m, HAS_H0, ACC, BLOCK)
    for t in range(T):
        h = _kept(h, r_ptr, row * T + t, HAS_RESETS)
        h = _gate_update(p_ptr + (row * T + t) * P, c, m, h, qk, qi, qx, OFF_I, OFF_X, MODE, USE_G, ACC)
        tl.store(h_ptr + (row * T + t) * H + c, h, mask=m)


@triton.jit
def _gate_update(p, c, m, h, qk, qi, qx, OFF_I, OFF_X, MODE: tl.constexpr, USE_G: tl.constexpr, ACC: tl.constexpr):
    """One step of the recurrence: h_t from h (h_{t-1}) and the row of Linear outputs at ``p`` plus their
    biases qk, qi, qx (also minrnn.ops.triton_step's decoding step)."""
    k = tl.load(p + c, mask=m, other=0.0).to(ACC) + qk
    cand = _cand(tl.load(p + OFF_X + c, mask=m, other=0.0).to(ACC) + qx, USE_G)
    if MODE == 0:  # minGRU: h = (1 - z) h_prev + z h~   (Algorithms 1, 5)
        return h + tl.sigmoid(k) * (cand - h)
    f, i = tl.sigmoid(k), tl.sigmoid(tl.load(p + OFF_I + c, mask=m, other=0.0).to(ACC) + qi)
    if MODE == 1:  # minLSTM as the authors' code: h = f h_prev + i h~
        return f * h + i * cand
    return (f * h + i * cand) / (f + i)  # normalised gates: (f h_prev + i h~) / (f + i)   (Algorithms 3, 7)


@triton.jit
def _bias(q_ptr, c, m, OFF_I, OFF_X, MODE: tl.constexpr):
    """The bias of the gate, the input gate (minLSTM) and the candidate, loaded once per program."""
    qk = tl.load(q_ptr + c, mask=m, other=0.0)
    qx = tl.load(q_ptr + OFF_X + c, mask=m, other=0.0)
    qi = qk
    if MODE != 0:
        qi = tl.load(q_ptr + OFF_I + c, mask=m, other=0.0)
    return qk, qi, qx


@triton.jit
def _gate_bwd_step(
    p, gp, gh, c, m, prev, carry, qk, qi, qx, OFF_I, OFF_X, MODE: tl.constexpr, USE_G: tl.constexpr, ACC: tl.constexpr
):
    """One reverse step: g = dL/dh_t + carry; writes dL/dp_t (gates recomputed from p), returns dL/dh_{t-1}."""
    g = tl.load(gh + c, mask=m, other=0.0).to(ACC) + carry
    k = tl.load(p + c, mask=m, other=0.0).to(ACC) + qk
    x = tl.load(p + OFF_X + c, mask=m, other=0.0).to(ACC) + qx
    cand, dcand = _cand(x, USE_G), _dcand(x, USE_G)
    if MODE == 0:
        z = tl.sigmoid(k)
        tl.store(gp + c, g * (cand - prev) * z * (1.0 - z), mask=m)
        tl.store(gp + OFF_X + c, g * z * dcand, mask=m)
        return g * (1.0 - z)
    f, ig = tl.sigmoid(k), tl.sigmoid(tl.load(p + OFF_I + c, mask=m, other=0.0).to(ACC) + qi)
    if MODE == 1:
        tl.store(gp + c, g * prev * f * (1.0 - f), mask=m)
        tl.store(gp + OFF_I + c, g * cand * ig * (1.0 - ig), mask=m)
        tl.store(gp + OFF_X + c, g * ig * dcand, mask=m)
        return g * f
    s = f + ig  # u = i / (f + i): h = h_prev + u (h~ - h_prev)
    G = g * (cand - prev) / (s * s)
    tl.store(gp + c, -G * ig * f * (1.0 - f), mask=m)
    tl.store(gp + OFF_I + c, G * f * ig * (1.0 - ig), mask=m)
    tl.store(gp + OFF_X + c, g * (ig / s) * dcand, mask=m)
    return g * (f / s)


@triton.jit
def _gate_bwd(
    p_ptr,
    q_ptr,
    h0_ptr,
    r_ptr,
    h_ptr,
    gh_ptr,
    gp_ptr,
    gh0_ptr,
    T,
    H,
    HAS_H0: tl.constexpr,
    HAS_RESETS: tl.constexpr,
    MODE: tl.constexpr,
    USE_G: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK: tl.constexpr,
):
    row, c = tl.program_id(0).to(tl.int64), tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)  # 64-bit offsets
    m = c < H
    P, OFF_I, OFF_X = _layout(H, MODE)
    qk, qi, qx = _bias(q_ptr, c, m, OFF_I, OFF_X, MODE)
    first = _initial(h0_ptr + row * H + c, m, HAS_H0, ACC, BLOCK)
    carry = tl.zeros([BLOCK], ACC)
    for i in range(T):  # t = T-1 .. 0; at t = 0 the previous state is h0; at a reset zeros, and no carry
        t = T - 1 - i
        prev = first
        if t > 0:
            prev = tl.load(h_ptr + (row * T + t - 1) * H + c, mask=m, other=0.0).to(ACC)
        keep = 1.0  # 0.0 at a reset: the previous state was zeros and no carry flows on to t - 1
        if HAS_RESETS:
            keep = (tl.load(r_ptr + row * T + t) == 0).to(ACC)
        at_p, at_h = (row * T + t) * P, (row * T + t) * H
        carry = keep * _gate_bwd_step(
            p_ptr + at_p,
            gp_ptr + at_p,
            gh_ptr + at_h,
            c,
            m,
            keep * prev,
            carry,
            qk,
            qi,
            qx,
            OFF_I,
            OFF_X,
            MODE,
            USE_G,
            ACC,
        )
    tl.store(gh0_ptr + row * H + c, carry, mask=m)


def _acc(dtype: torch.dtype):
    return tl.float64 if dtype == torch.float64 else tl.float32


def _state_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def on_device(t: torch.Tensor):
    """Triton launches on the current CUDA device: make that the tensors' device (trainer.device=cuda:1)."""
    return torch.cuda.device(t.device) if t.device.type == "cuda" else contextlib.nullcontext()


def _check(name: str, x: torch.Tensor, h0: torch.Tensor | None, channels: int) -> None:
    """The layouts the kernels assume, checked before launch (the op makes inputs contiguous)."""
    if x.dim() != 3 or x.shape[1] < 1 or x.dtype not in (torch.float32, torch.float64, torch.bfloat16, torch.float16):
        raise ValueError(f"{name}: needs a (B, T >= 1, C) float tensor, got {tuple(x.shape)} {x.dtype}")
    if h0 is not None and (h0.shape != (x.shape[0], channels) or h0.device != x.device):
        raise ValueError(f"{name}: h0 must be (B, C) = {(x.shape[0], channels)} on {x.device}, got {tuple(h0.shape)}")


# ---- the generic scan ------------------------------------------------------------------------------------


@torch.library.custom_op("minrnn::triton_linear_scan", mutates_args=())
def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
    """h_t = a_t h_{t-1} + b_t; returns the states in float32 (float64 for float64 inputs)."""
    _check("triton_linear_scan", a, h0, a.shape[-1])
    if b.shape != a.shape:
        raise ValueError(f"triton_linear_scan: a and b differ in shape: {tuple(a.shape)}, {tuple(b.shape)}")
    a, b = a.contiguous(), b.contiguous()
    h0 = h0.contiguous() if h0 is not None else None
    B, T, C = a.shape
    h = torch.empty(B, T, C, dtype=_state_dtype(a.dtype), device=a.device)
    block = _block(C)
    with on_device(a):
        _scan_fwd[(B, triton.cdiv(C, block))](
            a, b, h0 if h0 is not None else a, h, T, C, HAS_H0=h0 is not None, ACC=_acc(a.dtype), BLOCK=block
        )
    return h


@linear_scan.register_fake
def _(a, b, h0):
    return a.new_empty(a.shape, dtype=_state_dtype(a.dtype))


@torch.library.custom_op("minrnn::triton_linear_scan_backward", mutates_args=())
def linear_scan_backward(
    a: torch.Tensor, h0: torch.Tensor | None, h: torch.Tensor, gh: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    a, h, gh = a.contiguous(), h.contiguous(), gh.contiguous().to(h.dtype)
    B, T, C = a.shape
    ga, gb = torch.empty_like(a), torch.empty_like(a)  # in the inputs' dtype: the kernel rounds as it stores
    gh0 = torch.empty(B, C, dtype=h0.dtype if h0 is not None else a.dtype, device=a.device)
    block = _block(C)
    h0_or_a = h0.contiguous() if h0 is not None else a
    with on_device(a):
        _scan_bwd[(B, triton.cdiv(C, block))](
            a, h0_or_a, h, gh, ga, gb, gh0, T, C, HAS_H0=h0 is not None, ACC=_acc(h.dtype), BLOCK=block
        )
    return ga, gb, gh0


@linear_scan_backward.register_fake
def _(a, h0, h, gh):
    gh0 = a.new_empty(a.shape[0], a.shape[2], dtype=h0.dtype if h0 is not None else a.dtype)
    return torch.empty_like(a), torch.empty_like(a), gh0


def _linear_setup(ctx, inputs, output):
    a, b, h0 = inputs
    ctx.save_for_backward(a, h0, output)
    ctx.dtypes = (a.dtype, b.dtype, h0.dtype if h0 is not None else None)


def _linear_backward(ctx, gh):
    a, h0, h = ctx.saved_tensors
    ga, gb, gh0 = linear_scan_backward(a, h0, h, gh)
    da, db, dh = ctx.dtypes
    return ga.to(da), gb.to(db), gh0.to(dh) if h0 is not None else None


linear_scan.register_autograd(_linear_backward, setup_context=_linear_setup)


# ---- the fused minGRU / minLSTM recurrence ----------------------------------------------------------------


def _hidden(P: int, mode: str) -> int:
    """H of the Linear outputs p (B, T, P): P = 2H ([k | h~], minGRU) or 3H ([f | i | h~], minLSTM)."""
    if mode not in MODES:
        raise ValueError(f"triton_gate_scan: mode must be one of {', '.join(MODES)}, got {mode!r}")
    parts = 2 if mode == "gru" else 3
    if P % parts:
        raise ValueError(f"triton_gate_scan: p's last dimension {P} is not {parts} x H for mode {mode}")
    return P // parts


def _bias_in(p: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """The bias (P,) in the state's dtype, zeros when None: the kernels add it as they read p."""
    dtype = _state_dtype(p.dtype)
    return bias.to(dtype).contiguous() if bias is not None else torch.zeros(p.shape[-1], dtype=dtype, device=p.device)


def gate_inputs(name: str, p, h0, mode: str, bias, resets):
    """The gate scans' inputs checked (one ValueError naming the op) and laid out for the kernels:
    (H, p contiguous, h0 contiguous or None, the bias in the state's dtype, resets as uint8 or None)."""
    H = _hidden(p.shape[-1], mode)
    _check(name, p, h0, H)
    r = checks.kernel_resets(name, resets, p.shape[0], p.shape[1], p.device)
    if bias is not None and (bias.shape != (p.shape[-1],) or bias.device != p.device):
        raise ValueError(f"{name}: bias must be ({p.shape[-1]},) on {p.device}, got {tuple(bias.shape)}")
    return H, p.contiguous(), (h0.contiguous() if h0 is not None else None), _bias_in(p, bias), r


def gate_fake(p, h0, mode, use_g, bias=None, resets=None):
    """The gate scans' fake (shapes and dtypes only, for torch.compile)."""
    H = _hidden(p.shape[-1], mode)
    return p.new_empty(*p.shape[:-1], H, dtype=_state_dtype(p.dtype))


def gate_autograd(op, backward_op) -> None:
    """Registers ``backward_op(p, h0, h, gh, mode, use_g, bias, resets) -> (dL/dp, dL/dh0)`` as the
    backward of the gate scan ``op``: dL/dbias is dL/dp summed over (B, T); gradients in the inputs' dtypes."""

    def setup(ctx, inputs, output):
        p, h0, mode, use_g, bias, resets = inputs
        ctx.save_for_backward(p, h0, output, bias, resets)
        ctx.mode, ctx.use_g, ctx.dtypes = mode, use_g, (p.dtype, h0.dtype if h0 is not None else None)

    def backward(ctx, gh):
        p, h0, h, bias, resets = ctx.saved_tensors
        gp, gh0 = backward_op(p, h0, h, gh, ctx.mode, ctx.use_g, bias, resets)
        gbias = gp.sum((0, 1)).to(bias.dtype) if bias is not None else None
        return gp.to(ctx.dtypes[0]), (gh0.to(ctx.dtypes[1]) if h0 is not None else None), None, None, gbias, None

    op.register_autograd(backward, setup_context=setup)


@torch.library.custom_op("minrnn::triton_gate_scan", mutates_args=())
def gate_scan(
    p: torch.Tensor,
    h0: torch.Tensor | None,
    mode: str,
    use_g: bool,
    bias: torch.Tensor | None = None,
    resets: torch.Tensor | None = None,
) -> torch.Tensor:
    """The fused recurrence on p = [k | (i) | h~ pre-activations] plus ``bias`` (P,) added in the state's
    precision as p is read (as the C kernel does); float32 states (float64 for float64 inputs).
    ``resets`` (B, T) bool or uint8: where set, the state before t is zeros (minrnn.resets)."""
    H, p, h0, q, r = gate_inputs("triton_gate_scan", p, h0, mode, bias, resets)
    B, T, _ = p.shape
    h = torch.empty(B, T, H, dtype=_state_dtype(p.dtype), device=p.device)
    block = _block(H)
    variant = {"HAS_H0": h0 is not None, "HAS_RESETS": r is not None, "MODE": MODES[mode], "USE_G": use_g}
    variant |= {"ACC": _acc(p.dtype), "BLOCK": block}
    with on_device(p):
        _gate_fwd[(B, triton.cdiv(H, block))](
            p, q, h0 if h0 is not None else p, r if r is not None else p, h, T, H, **variant
        )
    return h


gate_scan.register_fake(gate_fake)


@torch.library.custom_op("minrnn::triton_gate_scan_backward", mutates_args=())
def gate_scan_backward(
    p: torch.Tensor,
    h0: torch.Tensor | None,
    h: torch.Tensor,
    gh: torch.Tensor,
    mode: str,
    use_g: bool,
    bias: torch.Tensor | None = None,
    resets: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(dL/dp, dL/dh0); dL/dbias is dL/dp summed over (B, T)."""
    H = _hidden(p.shape[-1], mode)
    r = checks.kernel_resets("triton_gate_scan_backward", resets, p.shape[0], p.shape[1], p.device)
    p, h, gh, q = p.contiguous(), h.contiguous(), gh.contiguous().to(h.dtype), _bias_in(p, bias)
    B, T, P = p.shape
    gp = torch.empty(B, T, P, dtype=p.dtype, device=p.device)  # every channel written, in p's dtype
    gh0 = torch.empty(B, H, dtype=h0.dtype if h0 is not None else p.dtype, device=p.device)
    block = _block(H)
    variant = {"HAS_H0": h0 is not None, "HAS_RESETS": r is not None, "MODE": MODES[mode], "USE_G": use_g}
    variant |= {"ACC": _acc(h.dtype), "BLOCK": block}
    h0_or_p, r_or_p = h0.contiguous() if h0 is not None else p, r if r is not None else p
    with on_device(p):
        _gate_bwd[(B, triton.cdiv(H, block))](p, q, h0_or_p, r_or_p, h, gh, gp, gh0, T, H, **variant)
    return gp, gh0


@gate_scan_backward.register_fake
def _(p, h0, h, gh, mode, use_g, bias=None, resets=None):
    gh0 = h.new_empty(h.shape[0], h.shape[2], dtype=h0.dtype if h0 is not None else p.dtype)
    return p.new_empty(p.shape), gh0  # contiguous, as the real op


gate_autograd(gate_scan, gate_scan_backward)
