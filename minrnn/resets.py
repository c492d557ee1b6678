"""Sequence resets and packed sequences: a state that restarts where a new sequence starts.

``resets`` is a (B, T) bool tensor, True at t when a new sequence starts at t: the state before t is
then the initial state (zeros, or a layer's learned h0) instead of h_{t-1}. Several sequences packed
into one row of length sum(T_i) (as mamba and flash-linear-attention pack them, with ``cu_seqlens``)
then give each sequence the outputs it has alone; ``resets_from_cu_seqlens`` builds the mask.

On the scan h_t = a_t h_{t-1} + b_t (Section 2.3) a reset at t with initial state s is a change of
coefficients, a_t -> 0 and b_t -> b_t + a_t s, so every backend runs it unchanged, backward included.
That needs a_t and b_t in memory: a backend whose fused gate scan takes ``resets`` itself (``fused_resets``
in minrnn.backends: the C and Triton kernels, for s = 0) skips it, and the layers hand it the mask.
"""

from __future__ import annotations

import torch

from minrnn import checks


def resets_from_cu_seqlens(cu_seqlens: torch.Tensor | list[int]) -> torch.Tensor:
    """(1, total) resets for sequences packed end to end: ``cu_seqlens`` = [0, T_1, T_1 + T_2, ..., total]."""
    cu = checks.cu_seqlens(cu_seqlens)
    resets = torch.zeros(1, int(cu[-1]), dtype=torch.bool)
    resets[0, cu[:-1]] = True
    return resets


def reset_coefficients(
    a: torch.Tensor, b: torch.Tensor, resets: torch.Tensor, initial: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, b) of (B, T, C) with a_t = 0 and b_t + a_t * initial where resets (B, T); initial (B, C) or None (zeros)."""
    r = resets.unsqueeze(-1)
    if initial is not None:
        b = b + torch.where(r, a * initial.unsqueeze(1), torch.zeros((), dtype=b.dtype, device=b.device))
    return a.masked_fill(r, 0.0), b


def reset_log_coefficients(
    log_a: torch.Tensor, log_b: torch.Tensor, resets: torch.Tensor, log_initial: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same in log space (Appendix B): log a_t = -inf and log b_t = logaddexp(log b_t, log a_t + log s)."""
    r = resets.unsqueeze(-1)
    if log_initial is not None:
        log_b = torch.where(r, torch.logaddexp(log_b, log_a + log_initial.unsqueeze(1)), log_b)
    return log_a.masked_fill(r, -torch.inf), log_b


def step_state(h_prev: torch.Tensor | None, reset: torch.Tensor | None, initial: torch.Tensor | None):
    """Sequential mode: the state before this step, h_prev or (rows where ``reset`` (B,)) the initial state."""
    if reset is None:
        return h_prev if h_prev is not None else initial
    if h_prev is None:
        return initial
    start = initial if initial is not None else torch.zeros((), dtype=h_prev.dtype, device=h_prev.device)
    return torch.where(reset.unsqueeze(-1), start, h_prev)
