"""One step of the minGRU/minLSTM recurrence as a Triton kernel: the GPU twin of ``minrnn::gate_step``
(minrnn.ops.step, csrc/step.c), for decoding on CUDA (minrnn.decode).

``minrnn::triton_gate_step(p, h_prev, mode, use_g) -> h_t`` has gate_step's signature: the Linear
outputs p (B, P) with their biases, P = 2H [k | h~] (gru) or 3H [f | i | h~] (lstm, lstm_norm), and
h_prev (B, H) give h_t (B, H) (Algorithms 1, 3, 5, 7). The update is triton_scan's (``_gate_update``,
one program per (row, block of channels)); the state is float32 (float64 for float64 inputs) whatever
the input dtype, as there. ``launcher`` makes the unchecked launch into a given buffer, for the decoder,
which checks its buffers once when it is built. Runs on CUDA tensors, and on CPU tensors under
``TRITON_INTERPRET=1`` (the tests). Importing this module needs ``triton``.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

from minrnn.backends import MODES
from minrnn.ops.triton_scan import _acc, _block, _gate_update, _layout, _state_dtype, on_device

FLOATS = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


@triton.jit
def _gate_step(
    p_ptr, h_ptr, out_ptr, H, MODE: tl.constexpr, USE_G: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr
):
    """p: contiguous (B, P), biases added; h, out: contiguous (B, H) (may be one buffer: each lane reads
    its channel before it writes it)."""
    row, c = tl.program_id(0).to(tl.int64), tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)  # 64-bit offsets
    m = c < H
    P, OFF_I, OFF_X = _layout(H, MODE)
    h = tl.load(h_ptr + row * H + c, mask=m, other=0.0).to(ACC)
    h = _gate_update(p_ptr + row * P, c, m, h, 0.0, 0.0, 0.0, OFF_I, OFF_X, MODE, USE_G, ACC)
    tl.store(out_ptr + row * H + c, h, mask=m)


def launcher(p: torch.Tensor, h_prev: torch.Tensor, out: torch.Tensor, mode: str, use_g: bool):
    """A zero-argument call that writes the step from p and h_prev into out (h_prev itself allowed);
    unchecked: contiguous tensors of the shapes ``check`` accepts, out in the state dtype."""
    B, H = h_prev.shape
    block = _block(H)
    grid, kernel = (B, triton.cdiv(H, block)), _gate_step
    variant = {"MODE": MODES[mode], "USE_G": bool(use_g), "ACC": _acc(p.dtype), "BLOCK": block}

    def call() -> None:
        with on_device(p):
            kernel[grid](p, h_prev, out, H, **variant)

    return call


def _got(t: torch.Tensor) -> str:
    return f"{tuple(t.shape)} {t.dtype}"


def check(name: str, p: torch.Tensor, h_prev: torch.Tensor, mode: str) -> int:
    """H, or one ValueError saying what is wrong with the inputs' shapes, dtypes or devices."""
    if mode not in MODES:
        raise ValueError(f"{name}: mode must be one of {', '.join(MODES)}, got {mode!r}")
    parts = 2 if mode == "gru" else 3
    if p.dim() != 2 or p.shape[1] % parts or p.dtype not in FLOATS:
        raise ValueError(f"{name}: p must be a float (B, {parts} * H) tensor for mode {mode}, got {_got(p)}")
    B, H = p.shape[0], p.shape[1] // parts
    if h_prev.shape != (B, H) or h_prev.dtype not in FLOATS:
        raise ValueError(f"{name}: h_prev must be a float ({B}, {H}) tensor, got {_got(h_prev)}")
    if h_prev.device != p.device:
        raise ValueError(f"{name}: p is on {p.device}, h_prev on {h_prev.device}")
    return H


def check_device(name: str, device: torch.device) -> None:
    if device.type != "cuda" and not (device.type == "cpu" and os.environ.get("TRITON_INTERPRET") == "1"):
        raise ValueError(f"{name}: runs on CUDA tensors, or on CPU tensors with TRITON_INTERPRET=1, not {device}")


@torch.library.custom_op("minrnn::triton_gate_step", mutates_args=())
def gate_step(p: torch.Tensor, h_prev: torch.Tensor, mode: str, use_g: bool) -> torch.Tensor:
    """One step of minGRU/minLSTM's sequential mode from the Linear outputs p (B, P) with their biases
    and h_prev (B, H) -> h_t (B, H), float32 for half inputs (float64 for float64)."""
    check("triton_gate_step", p, h_prev, mode)
    check_device("triton_gate_step", p.device)
    p, h_prev = p.contiguous(), h_prev.contiguous()
    h = torch.empty(h_prev.shape, dtype=_state_dtype(p.dtype), device=p.device)
    if h.numel():
        launcher(p, h_prev, h, mode, use_g)()
    return h


@gate_step.register_fake
def _(p, h_prev, mode, use_g):
    H = check("triton_gate_step", p, h_prev, mode)
    return p.new_empty(p.shape[0], H, dtype=_state_dtype(p.dtype))
