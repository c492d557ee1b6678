"""The chunked Triton scan h_t = a_t h_{t-1} + b_t (Section 2.3): parallel over time as well as channels.

minrnn.ops.triton_scan loops over all of T in one program per (batch row, block of channels): when
B x C is small, few programs run and each waits one global-memory round trip per step. Here T is
cut into chunks of L steps, in three launches (the chunk scan of flash-linear-attention's HGRN
kernels, and of every parallel prefix sum: scan, then scan the totals, then add):

1. ``_chunk_local``: every chunk at once, from a zero state: the chunk's product of a (A_c) and
   its end state (S_c), so that h at the chunk's end is A_c h_in + S_c for any state h_in before it.
2. ``_chunk_states``: the short scan over the T / L chunk totals: the state before each chunk
   (h0 before the first), and the final state.
3. ``_chunk_fwd``: every chunk at once again, from its true state: the same loop, writing h.

The backward is the same scan reversed in time on the gradients, g_t = dL/dh_t + a_{t+1} g_{t+1}
(the carry into step t-1 is a_t g_t, a linear recurrence in the carry with coefficients a_t), in the
same three launches with ``REVERSE``; then dL/da_t = g_t h_{t-1}, dL/db_t = g_t, dL/dh0 = a_0 g_0.
Resets need nothing here: minrnn.resets turns them into a_t = 0 before the scan.

The fused minGRU/minLSTM recurrence runs the same three launches on the Linear outputs p (the
``gate_scan`` signature of minrnn.ops.triton_scan): each kernel recomputes a_t and b_t from p (Algorithms
5 and 7, or the authors' minLSTM), with resets fused as a_t = 0, so neither a nor b is ever written to
memory; the backward's last launch is the loop kernel's reverse step (``_gate_bwd_step``) per chunk.

Bytes: the forward reads a and b twice and writes h once (the loop: once each), the backward reads
a and dL/dh twice and h once; in exchange every (row, chunk, block of channels) is a program.
States are float32 (float64 for float64 inputs), as in minrnn.ops.triton_scan; gradients are written in
the inputs' dtypes. ``use_chunked`` chooses between the two kernels by shape.
"""

from __future__ import annotations

import contextlib
import threading

import torch
import triton
import triton.language as tl

from minrnn import checks
from minrnn.backends import MODES
from minrnn.ops.triton_scan import (
    _acc,
    _bias,
    _bias_in,
    _block,
    _cand,
    _check,
    _gate_bwd_step,
    _hidden,
    _layout,
    _state_dtype,
    gate_autograd,
    gate_fake,
    gate_inputs,
    on_device,
)

LOOP_PROGRAMS = 256  # below this many (row, channel block) programs the loop leaves most of a GPU idle
MIN_CHUNKS = 4  # and chunking pays when T is at least this many chunks


def chunk_length(T: int) -> int:
    """L, a power of two near sqrt(T) within [16, 256]: the L steps of a chunk and the T / L steps
    over chunks run one after the other, so their sum is smallest near sqrt(T)."""
    L = 16  # the smallest power of two at least isqrt(T), in plain int arithmetic (torch.compile traces it)
    while L < 256 and (L + 1) * (L + 1) <= T:
        L *= 2
    return L


_PINNED = threading.local()  # pinned()'s stack, per thread as torch's grad mode: the innermost choice wins


@contextlib.contextmanager
def pinned(chunked: bool):
    """Inside ``with pinned(True)`` (or False) the triton backend runs the chunked kernels (or the loop)
    whatever the shape, in this thread: how gpu_check and the speed card check and time each kernel at one shape."""
    if not isinstance(chunked, bool):
        raise checks.ArgumentError(f"pinned: chunked must be True (chunked) or False (the loop), got {chunked!r}")
    before = getattr(_PINNED, "stack", ())
    _PINNED.stack = (*before, chunked)
    try:
        yield
    finally:
        _PINNED.stack = before


def use_chunked(B: int, T: int, C: int) -> bool:
    """Long T and few (row, channel block) programs: the chunked scan; else the loop (minrnn.ops.triton_scan).
    The thresholds are a reasoned guess (an H100 has 132 SMs), not a measurement; ``pinned`` overrides them."""
    stack = getattr(_PINNED, "stack", ())  # torch.compile guards on it: a new pin recompiles
    if stack:
        return stack[-1]
    return B * triton.cdiv(C, _block(C)) < LOOP_PROGRAMS and T >= MIN_CHUNKS * chunk_length(T)


@triton.jit
def _chunk_local(a_ptr, b_ptr, A_ptr, S_ptr, T, C, L, REVERSE: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    """One program per (row, chunk, channel block): A_c = prod a_t over the chunk and S_c, the chunk's
    end state from zero (REVERSE: the carry a_t (b_t + carry) run from the chunk's end to its start)."""
    row, chunk = tl.program_id(0).to(tl.int64), tl.program_id(1).to(tl.int64)  # 64-bit offsets
    c = tl.program_id(2) * BLOCK + tl.arange(0, BLOCK)
    m = c < C
    n_chunks = tl.num_programs(1)
    prod, s = tl.full([BLOCK], 1.0, ACC), tl.zeros([BLOCK], ACC)
    for i in range(L):  # steps past T (the last chunk) read a = 1, b = 0: they change nothing
        t = chunk * L + i
        if REVERSE:
            t = chunk * L + L - 1 - i
        mt = m & (t + tl.zeros([BLOCK], tl.int64) < T)
        at = tl.load(a_ptr + (row * T + t) * C + c, mask=mt, other=1.0).to(ACC)
        bt = tl.load(b_ptr + (row * T + t) * C + c, mask=mt, other=0.0).to(ACC)
        if REVERSE:
            s = at * (s + bt)
        else:
            s = at * s + bt
        prod = prod * at
    at_chunk = (row * n_chunks + chunk) * C + c
    tl.store(A_ptr + at_chunk, prod, mask=m)
    tl.store(S_ptr + at_chunk, s, mask=m)


@triton.jit
def _chunk_states(
    A_ptr, S_ptr, h0_ptr, start_ptr, last_ptr, n_chunks, C, HAS_H0: tl.constexpr, REVERSE: tl.constexpr,
    ACC: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """One program per (row, channel block): the state before each chunk, in chunk order (REVERSE: from
    the last chunk, starting at zero), h_in -> A_c h_in + S_c; ``last`` gets the state after all chunks."""
    row, c = tl.program_id(0).to(tl.int64), tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    m = c < C
    h = tl.zeros([BLOCK], ACC)
    if HAS_H0:
        h = tl.load(h0_ptr + row * C + c, mask=m, other=0.0).to(ACC)
    for i in range(n_chunks):
        chunk = i
        if REVERSE:
            chunk = n_chunks - 1 - i
        at = (row * n_chunks + chunk) * C + c
        tl.store(start_ptr + at, h, mask=m)
        h = tl.load(A_ptr + at, mask=m, other=0.0) * h + tl.load(S_ptr + at, mask=m, other=0.0)
    tl.store(last_ptr + row * C + c, h, mask=m)


@triton.jit
def _chunk_fwd(a_ptr, b_ptr, start_ptr, h_ptr, T, C, L, ACC: tl.constexpr, BLOCK: tl.constexpr):
    """One program per (row, chunk, channel block): h_t = a_t h_{t-1} + b_t from the chunk's true start."""
    row, chunk = tl.program_id(0).to(tl.int64), tl.program_id(1).to(tl.int64)
    c = tl.program_id(2) * BLOCK + tl.arange(0, BLOCK)
    m = c < C
    h = tl.load(start_ptr + (row * tl.num_programs(1) + chunk) * C + c, mask=m, other=0.0)
    for i in range(L):
        t = chunk * L + i
        mt, at = m & (t + tl.zeros([BLOCK], tl.int64) < T), (row * T + t) * C + c
        h = tl.load(a_ptr + at, mask=mt, other=1.0).to(ACC) * h + tl.load(b_ptr + at, mask=mt, other=0.0).to(ACC)
        tl.store(h_ptr + at, h, mask=mt)


@triton.jit
def _chunk_bwd(
    a_ptr, h0_ptr, h_ptr, gh_ptr, start_ptr, ga_ptr, gb_ptr, T, C, L, HAS_H0: tl.constexpr, ACC: tl.constexpr,
    BLOCK: tl.constexpr,
):  # fmt: skip
    """One program per (row, chunk, channel block), from the chunk's end: g_t = dL/dh_t + carry,
    dL/da_t = g_t h_{t-1}, dL/db_t = g_t, carry = a_t g_t (h_{-1} = h0, or zeros)."""
    row, chunk = tl.program_id(0).to(tl.int64), tl.program_id(1).to(tl.int64)
    c = tl.program_id(2) * BLOCK + tl.arange(0, BLOCK)
    m = c < C
    carry = tl.load(start_ptr + (row * tl.num_programs(1) + chunk) * C + c, mask=m, other=0.0)
    for i in range(L):  # steps past T come first here: g = carry = 0 until the last real step
        t = chunk * L + L - 1 - i
        tt = t + tl.zeros([BLOCK], tl.int64)
        mt, at = m & (tt < T), (row * T + t) * C + c
        prev = tl.load(h_ptr + at - C, mask=mt & (tt > 0), other=0.0).to(ACC)
        if HAS_H0:
            prev += tl.load(h0_ptr + row * C + c, mask=mt & (tt == 0), other=0.0).to(ACC)
        g = tl.load(gh_ptr + at, mask=mt, other=0.0).to(ACC) + carry
        tl.store(ga_ptr + at, g * prev, mask=mt)
        tl.store(gb_ptr + at, g, mask=mt)
        carry = g * tl.load(a_ptr + at, mask=mt, other=1.0).to(ACC)


def _grid_and_buffers(x: torch.Tensor, state: torch.dtype):
    B, T, C = x.shape
    L, block = chunk_length(T), _block(C)
    n = triton.cdiv(T, L)
    A, S, start = (torch.empty(B, n, C, dtype=state, device=x.device) for _ in range(3))
    return (B, n, triton.cdiv(C, block)), L, block, A, S, start


@torch.library.custom_op("minrnn::triton_chunked_scan", mutates_args=())
def chunked_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
    """h_t = a_t h_{t-1} + b_t in chunks (the module docstring); float32 states (float64 for float64)."""
    _check("triton_chunked_scan", a, h0, a.shape[-1])
    if b.shape != a.shape:
        raise ValueError(f"triton_chunked_scan: a and b differ in shape: {tuple(a.shape)}, {tuple(b.shape)}")
    a, b = a.contiguous(), b.contiguous()
    h0 = h0.contiguous() if h0 is not None else None
    B, T, C = a.shape
    state = _state_dtype(a.dtype)
    h, last = torch.empty(B, T, C, dtype=state, device=a.device), torch.empty(B, C, dtype=state, device=a.device)
    grid, L, block, A, S, start = _grid_and_buffers(a, state)
    acc = _acc(a.dtype)
    with on_device(a):
        _chunk_local[grid](a, b, A, S, T, C, L, REVERSE=False, ACC=acc, BLOCK=block)
        _chunk_states[(B, grid[2])](
            A, S, h0 if h0 is not None else A, start, last, grid[1], C,
            HAS_H0=h0 is not None, REVERSE=False, ACC=acc, BLOCK=block,
        )  # fmt: skip
        _chunk_fwd[grid](a, b, start, h, T, C, L, ACC=acc, BLOCK=block)
    return h


@chunked_scan.register_fake
def _(a, b, h0):
    return a.new_empty(a.shape, dtype=_state_dtype(a.dtype))


@torch.library.custom_op("minrnn::triton_chunked_scan_backward", mutates_args=())
def chunked_scan_backward(
    a: torch.Tensor, b_dtype: torch.dtype, h0: torch.Tensor | None, h: torch.Tensor, gh: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dL/da, dL/db, dL/dh0) in the dtypes of a, b and h0 (h0's: the state's when h0 is None)."""
    a, h, gh = a.contiguous(), h.contiguous(), gh.contiguous()
    B, T, C = a.shape
    ga, gb = torch.empty_like(a), torch.empty(a.shape, dtype=b_dtype, device=a.device)
    gh0 = torch.empty(B, C, dtype=h0.dtype if h0 is not None else h.dtype, device=a.device)
    grid, L, block, A, S, start = _grid_and_buffers(a, h.dtype)
    acc = _acc(h.dtype)
    h0_or_a = h0.contiguous() if h0 is not None else a
    with on_device(a):
        _chunk_local[grid](a, gh, A, S, T, C, L, REVERSE=True, ACC=acc, BLOCK=block)
        _chunk_states[(B, grid[2])](A, S, A, start, gh0, grid[1], C, HAS_H0=False, REVERSE=True, ACC=acc, BLOCK=block)
        _chunk_bwd[grid](a, h0_or_a, h, gh, start, ga, gb, T, C, L, HAS_H0=h0 is not None, ACC=acc, BLOCK=block)
    return ga, gb, gh0


@chunked_scan_backward.register_fake
def _(a, b_dtype, h0, h, gh):
    gh0 = h.new_empty(h.shape[0], h.shape[2], dtype=h0.dtype if h0 is not None else h.dtype)
    return torch.empty_like(a), a.new_empty(a.shape, dtype=b_dtype), gh0


def _setup(ctx, inputs, output):
    a, b, h0 = inputs
    ctx.save_for_backward(a, h0, output)
    ctx.b_dtype = b.dtype


def _backward(ctx, gh):
    a, h0, h = ctx.saved_tensors
    ga, gb, gh0 = chunked_scan_backward(a, ctx.b_dtype, h0, h, gh)
    return ga, gb, gh0 if h0 is not None else None


chunked_scan.register_autograd(_backward, setup_context=_setup)


# ---- the fused minGRU / minLSTM recurrence in chunks --------------------------------------------------------


@triton.jit
def _gate_ab(
    p_ptr, r_ptr, row, t, T, P, c, m, qk, qi, qx, OFF_I, OFF_X, HAS_RESETS: tl.constexpr, MODE: tl.constexpr,
    USE_G: tl.constexpr, ACC: tl.constexpr,
):  # fmt: skip
    """(a_t, b_t) of h_t = a_t h_{t-1} + b_t from p's row at step t: minGRU (1 - z, z h~) (Algorithm 5),
    minLSTM (f, i h~) as the authors' code or (f, i h~) / (f + i) (Algorithm 7); a_t = 0 at a reset;
    past T, (1, 0), which changes nothing."""
    inside = c * 0 + t < T  # per lane: the interpreter takes vector masks only
    mt = m & inside
    p = p_ptr + (row * T + t) * P
    k = tl.load(p + c, mask=mt, other=0.0).to(ACC) + qk
    cand = _cand(tl.load(p + OFF_X + c, mask=mt, other=0.0).to(ACC) + qx, USE_G)
    if MODE == 0:
        z = tl.sigmoid(k)
        a, b = 1.0 - z, z * cand
    else:
        f, i = tl.sigmoid(k), tl.sigmoid(tl.load(p + OFF_I + c, mask=mt, other=0.0).to(ACC) + qi)
        if MODE == 1:
            a, b = f, i * cand
        else:
            a, b = f / (f + i), i * cand / (f + i)
    if HAS_RESETS:  # the byte at min(t, T - 1): never read past the mask
        a = tl.where(tl.load(r_ptr + row * T + tl.minimum(t, T - 1)) == 0, a, 0.0)
    return tl.where(inside, a, 1.0), tl.where(inside, b, 0.0)


@triton.jit
def _gate_chunk_local(
    p_ptr, q_ptr, r_ptr, gh_ptr, A_ptr, S_ptr, T, H, L, REVERSE: tl.constexpr, HAS_RESETS: tl.constexpr,
    MODE: tl.constexpr, USE_G: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """``_chunk_local`` with a_t, b_t recomputed from p: the forward's A_c and S_c; REVERSE, the backward's
    carry a_t (dL/dh_t + carry) from the chunk's end, read from gh (b is not used)."""
    row, chunk = tl.program_id(0).to(tl.int64), tl.program_id(1).to(tl.int64)  # 64-bit offsets
    c = tl.program_id(2) * BLOCK + tl.arange(0, BLOCK)
    m = c < H
    n_chunks = tl.num_programs(1)
    P, OFF_I, OFF_X = _layout(H, MODE)
    qk, qi, qx = _bias(q_ptr, c, m, OFF_I, OFF_X, MODE)
    prod, s = tl.full([BLOCK], 1.0, ACC), tl.zeros([BLOCK], ACC)
    for i in range(L):
        t = chunk * L + i
        if REVERSE:
            t = chunk * L + L - 1 - i
        a, b = _gate_ab(p_ptr, r_ptr, row, t, T, P, c, m, qk, qi, qx, OFF_I, OFF_X, HAS_RESETS, MODE, USE_G, ACC)
        if REVERSE:
            g = tl.load(gh_ptr + (row * T + t) * H + c, mask=m & (c * 0 + t < T), other=0.0).to(ACC)
            s = a * (s + g)
        else:
            s = a * s + b
        prod = prod * a
    at_chunk = (row * n_chunks + chunk) * H + c
    tl.store(A_ptr + at_chunk, prod, mask=m)
    tl.store(S_ptr + at_chunk, s, mask=m)


@triton.jit
def _gate_chunk_fwd(
    p_ptr, q_ptr, r_ptr, start_ptr, h_ptr, T, H, L, HAS_RESETS: tl.constexpr, MODE: tl.constexpr,
    USE_G: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """One program per (row, chunk, channel block): the recurrence from the chunk's true start, writing h."""
    row, chunk = tl.program_id(0).to(tl.int64), tl.program_id(1).to(tl.int64)
    c = tl.program_id(2) * BLOCK + tl.arange(0, BLOCK)
    m = c < H
    P, OFF_I, OFF_X = _layout(H, MODE)
    qk, qi, qx = _bias(q_ptr, c, m, OFF_I, OFF_X, MODE)
    h = tl.load(start_ptr + (row * tl.num_programs(1) + chunk) * H + c, mask=m, other=0.0)
    for i in range(L):
        t = chunk * L + i
        a, b = _gate_ab(p_ptr, r_ptr, row, t, T, P, c, m, qk, qi, qx, OFF_I, OFF_X, HAS_RESETS, MODE, USE_G, ACC)
        h = a * h + b
        tl.store(h_ptr + (row * T + t) * H + c, h, mask=m & (c * 0 + t < T))


@triton.jit
def _gate_chunk_bwd(
    p_ptr, q_ptr, h0_ptr, r_ptr, h_ptr, gh_ptr, start_ptr, gp_ptr, T, H, L, HAS_H0: tl.constexpr,
    HAS_RESETS: tl.constexpr, MODE: tl.constexpr, USE_G: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """One program per (row, chunk, channel block), from the chunk's end with the carry from later chunks:
    the loop kernel's reverse step (minrnn.ops.triton_scan._gate_bwd), dL/dp_t written in p's dtype."""
    row, chunk = tl.program_id(0).to(tl.int64), tl.program_id(1).to(tl.int64)
    c = tl.program_id(2) * BLOCK + tl.arange(0, BLOCK)
    m = c < H
    P, OFF_I, OFF_X = _layout(H, MODE)
    qk, qi, qx = _bias(q_ptr, c, m, OFF_I, OFF_X, MODE)
    carry = tl.load(start_ptr + (row * tl.num_programs(1) + chunk) * H + c, mask=m, other=0.0)
    for i in range(L):  # steps past T come first: nothing is stored and the carry stays 0
        t = chunk * L + L - 1 - i
        tt = c * 0 + t
        mt = m & (tt < T)
        prev = tl.load(h_ptr + (row * T + t - 1) * H + c, mask=mt & (tt > 0), other=0.0).to(ACC)
        if HAS_H0:
            prev += tl.load(h0_ptr + row * H + c, mask=mt & (tt == 0), other=0.0).to(ACC)
        keep = 1.0  # 0.0 at a reset: the previous state was zeros and no carry flows on to t - 1
        if HAS_RESETS:
            keep = (tl.load(r_ptr + row * T + tl.minimum(t, T - 1)) == 0).to(ACC)
        at_p = (row * T + t) * P
        carry = keep * _gate_bwd_step(
            p_ptr + at_p, gp_ptr + at_p, gh_ptr + (row * T + t) * H, c, mt, keep * prev, carry, qk, qi, qx,
            OFF_I, OFF_X, MODE, USE_G, ACC,
        )  # fmt: skip


def _gate_variant(H: int, r, mode: str, use_g: bool, acc) -> dict:
    return {"HAS_RESETS": r is not None, "MODE": MODES[mode], "USE_G": use_g, "ACC": acc, "BLOCK": _block(H)}


@torch.library.custom_op("minrnn::triton_chunked_gate_scan", mutates_args=())
def chunked_gate_scan(
    p: torch.Tensor,
    h0: torch.Tensor | None,
    mode: str,
    use_g: bool,
    bias: torch.Tensor | None = None,
    resets: torch.Tensor | None = None,
) -> torch.Tensor:
    """minrnn.ops.triton_scan.gate_scan (same signature and result) in chunks of T in parallel."""
    H, p, h0, q, r = gate_inputs("triton_chunked_gate_scan", p, h0, mode, bias, resets)
    B, T, _ = p.shape
    state = _state_dtype(p.dtype)
    h, last = torch.empty(B, T, H, dtype=state, device=p.device), torch.empty(B, H, dtype=state, device=p.device)
    grid, L, block, A, S, start = _grid_and_buffers(h, state)
    acc = _acc(p.dtype)
    variant = _gate_variant(H, r, mode, use_g, acc)
    r_or_p = r if r is not None else p
    with on_device(p):
        _gate_chunk_local[grid](p, q, r_or_p, h, A, S, T, H, L, REVERSE=False, **variant)
        _chunk_states[(B, grid[2])](
            A, S, h0 if h0 is not None else A, start, last, grid[1], H,
            HAS_H0=h0 is not None, REVERSE=False, ACC=acc, BLOCK=block,
        )  # fmt: skip
        _gate_chunk_fwd[grid](p, q, r_or_p, start, h, T, H, L, **variant)
    return h


chunked_gate_scan.register_fake(gate_fake)


@torch.library.custom_op("minrnn::triton_chunked_gate_scan_backward", mutates_args=())
def chunked_gate_scan_backward(
    p: torch.Tensor,
    h0: torch.Tensor | None,
    h: torch.Tensor,
    gh: torch.Tensor,
    mode: str,
    use_g: bool,
    bias: torch.Tensor | None = None,
    resets: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(dL/dp, dL/dh0), as minrnn.ops.triton_scan.gate_scan_backward; dL/dbias is dL/dp summed over (B, T)."""
    H = _hidden(p.shape[-1], mode)
    r = checks.kernel_resets("triton_chunked_gate_scan_backward", resets, p.shape[0], p.shape[1], p.device)
    p, h, gh, q = p.contiguous(), h.contiguous(), gh.contiguous().to(h.dtype), _bias_in(p, bias)
    B, T, P = p.shape
    gp = torch.empty(B, T, P, dtype=p.dtype, device=p.device)  # every channel written, in p's dtype
    gh0 = torch.empty(B, H, dtype=h0.dtype if h0 is not None else h.dtype, device=p.device)  # as chunked_scan's
    grid, L, block, A, S, start = _grid_and_buffers(h, h.dtype)
    acc = _acc(h.dtype)
    variant = _gate_variant(H, r, mode, use_g, acc)
    r_or_p, h0_or_p = (r if r is not None else p), (h0.contiguous() if h0 is not None else p)
    with on_device(p):
        _gate_chunk_local[grid](p, q, r_or_p, gh, A, S, T, H, L, REVERSE=True, **variant)
        _chunk_states[(B, grid[2])](A, S, A, start, gh0, grid[1], H, HAS_H0=False, REVERSE=True, ACC=acc, BLOCK=block)
        _gate_chunk_bwd[grid](p, q, h0_or_p, r_or_p, h, gh, start, gp, T, H, L, HAS_H0=h0 is not None, **variant)
    return gp, gh0


@chunked_gate_scan_backward.register_fake
def _(p, h0, h, gh, mode, use_g, bias=None, resets=None):
    gh0 = h.new_empty(h.shape[0], h.shape[2], dtype=h0.dtype if h0 is not None else h.dtype)
    return p.new_empty(p.shape), gh0


gate_autograd(chunked_gate_scan, chunked_gate_scan_backward)
