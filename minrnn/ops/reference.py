"""The reference ops, in plain PyTorch: what every kernel (minrnn.ops.native, minrnn.ops.triton_scan) equals.

- ``scan_sequential(a, b, h0)``: h_t = a_t h_{t-1} + b_t (Section 2.3), a loop over time: the reference.
- ``parallel_scan_log`` (Listing 5) and ``parallel_scan_log_chunked``: the log-space scan of Appendix B.1
  (Heinsen, 2023); ``log_scan(log_a, log_b, log_h0, chunk)`` is it with h0 in log space, and
  ``scan_log(a, b, h0)`` the same on a, b, h0 > 0.
- ``gate_scan(p, h0, mode, log_space, bias, resets)``: the fused minGRU/minLSTM recurrence (Algorithms 1,
  3, 5, 7) from the Linear outputs p, written plainly: the reference of the fused kernels, same signature.
- ``g``, ``log_g``: Listing 6.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def g(x: torch.Tensor) -> torch.Tensor:
    """Listing 6: x + 0.5 for x >= 0, sigmoid(x) otherwise; continuous and positive."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: torch.Tensor) -> torch.Tensor:
    """Listing 6: log g(x), computed without taking log of a sigmoid."""
    return torch.where(x >= 0, (F.relu(x) + 0.5).log(), -F.softplus(-x))


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


def log_scan(
    log_a: torch.Tensor, log_b: torch.Tensor, log_h0: torch.Tensor | None = None, chunk: int = LOG_CHUNK
) -> torch.Tensor:
    """Appendix B.1 on logs: h from log a, log b (B, T, C) and log h0 (B, C) or None (h0 = 0), chunked."""
    log_values = log_b if log_h0 is None else torch.cat([log_h0.unsqueeze(1), log_b], dim=1)
    return parallel_scan_log_chunked(log_a, log_values, chunk)


def scan_log(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, chunk: int = LOG_CHUNK, scan=log_scan):
    """Appendix B.1: the scan in log space, chunked (``chunk=0``: Listing 5 as printed). a, b, h0 > 0.

    float16/bfloat16 are computed in float32 (logcumsumexp in half precision loses the state).
    ``scan``: the log-space scan to run (a log-space backend's, minrnn.backends)."""
    dtype = a.dtype
    if a.element_size() < 4:
        a, b, h0 = a.float(), b.float(), (h0.float() if h0 is not None else None)
    return scan(a.log(), b.log(), h0.log() if h0 is not None else None, chunk).to(dtype)


def scan_vanilla_parallel(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """Appendix B.1's comparator, the vanilla parallel scan (Heinsen 2023, before logs):
    h_t = a*_t (h0 + sum_{k<=t} b_k / a*_k) with a*_t = prod_{k<=t} a_k. Not used by any layer: a*_t
    underflows for long sequences (in float32 most outputs are inf/NaN by T = 512), which is why the
    paper trains in log space (scripts/scan_accuracy.py measures it)."""
    a_star = torch.cumprod(a, dim=1)
    start = h0.unsqueeze(1) if h0 is not None else 0
    return a_star * (start + torch.cumsum(b / a_star, dim=1))


def gate_scan(
    p: torch.Tensor,
    h0: torch.Tensor | None,
    mode: str,
    log_space: bool,
    bias: torch.Tensor | None = None,
    resets: torch.Tensor | None = None,
) -> torch.Tensor:
    """The fused recurrence from the Linear outputs p (B, T, P) (+ bias (P,)), in float32 at least.

    p's channels are [k | h~] for mode ``gru`` (a = 1 - sigmoid(k), b = sigmoid(k) h~) and [f | i | h~]
    for ``lstm`` (a = sigmoid(f), b = sigmoid(i) h~) and ``lstm_norm`` (both divided by f + i);
    h~ = g(pre-activation) when ``log_space`` (Appendix B), else the pre-activation (Appendix A).
    ``resets`` (B, T) bool or uint8: where set, the state before t is zeros (h_t = b_t; minrnn.resets).
    """
    if bias is not None:
        p = p + bias
    if p.element_size() < 4:
        p, h0 = p.float(), (h0.float() if h0 is not None else None)
    parts = p.chunk(2 if mode == "gru" else 3, dim=-1)
    cand = g(parts[-1]) if log_space else parts[-1]
    if mode == "gru":
        z = torch.sigmoid(parts[0])
        a, b = 1 - z, z * cand
    else:
        f, i = torch.sigmoid(parts[0]), torch.sigmoid(parts[1])
        if mode == "lstm_norm":
            f, i = f / (f + i), i / (f + i)
        a, b = f, i * cand
    if resets is not None:  # a_t = 0 where a sequence starts: h_t = b_t, nothing flows back past t
        a = a.masked_fill(resets.bool().unsqueeze(-1), 0.0)
    return scan_sequential(a, b, h0.to(a.dtype) if h0 is not None else None)
