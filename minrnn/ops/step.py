"""The CPU decoding kernels (csrc/step.c): built and loaded like the scan kernels (minrnn.ops.native),
in a library of their own. ``library()`` for the decoder (minrnn.decode), which calls them on buffers
it owns and checked once; ``gate_step`` is the checked operator of one step of the recurrence.
"""

from __future__ import annotations

import ctypes

import torch

from minrnn.backends import MODES
from minrnn.ops import native

SOURCE = native.SOURCE.with_name("step.c")
HEADERS = [SOURCE.with_name(h) for h in ("step_impl.h", "common.h", "dtypes.h")]


def library() -> ctypes.CDLL:
    """The kernel library, built on first use; raises RuntimeError saying why it is unavailable."""
    return native.load_library(SOURCE, HEADERS, "decoding step")


def problem() -> str | None:
    """None when the library loads (built on first call); else why not."""
    return native.problem(library)


def suffix(dtype: torch.dtype) -> str:
    return native._suffix(dtype)


@torch.library.custom_op("minrnn::gate_step", mutates_args=())
def gate_step(p: torch.Tensor, h_prev: torch.Tensor, mode: str, use_g: bool) -> torch.Tensor:
    """One step of minGRU/minLSTM's sequential mode (Algorithms 1, 3, 5, 7) from the Linear outputs
    p (B, P) with their biases, P = 2H [k | h~] (gru) or 3H [f | i | h~] (lstm, lstm_norm), and
    h_prev (B, H) -> h_t (B, H)."""
    if mode not in MODES:
        raise ValueError(f"gate_step: mode must be one of {', '.join(MODES)}, got {mode!r}")
    parts = 2 if mode == "gru" else 3
    if p.dim() != 2 or p.shape[1] % parts:
        raise ValueError(f"gate_step: p must have shape (B, {parts} * H) for mode {mode}, got {tuple(p.shape)}")
    B, H = p.shape[0], p.shape[1] // parts
    _, suf, (p, h) = native._prepare("gate_step", {"p": (B, parts * H), "h_prev": (B, H)}, p, h_prev)
    h, lib = h.clone(), library()  # the kernel updates its state in place; the operator returns a new tensor
    getattr(lib, f"dec_gate_{suf}")(*map(native._c, (B, H, ctypes.c_int(MODES[mode]), ctypes.c_int(use_g), p, h)))
    return h


@gate_step.register_fake
def _(p, h_prev, mode, use_g):
    return h_prev.new_empty(h_prev.shape)
