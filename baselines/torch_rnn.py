"""GRU and LSTM behind MinGRU's layer interface, so they drop into the same residual block.

``impl="fused"`` uses torch.nn.GRU/LSTM (cuDNN, oneDNN); ``impl="loop"`` the plain PyTorch loops
of baselines/loop_rnn.py that the paper's runtime comparison times. Same parameters either way.
"""

from __future__ import annotations

import torch
from torch import nn

from minrnn.baselines.loop_rnn import LoopGRU, LoopLSTM

IMPLS = ("fused", "loop")


def _build(fused: type[nn.Module], loop: type[nn.Module], dim_in: int, dim_hidden: int, impl: str) -> nn.Module:
    if impl not in IMPLS:
        raise ValueError(f"unknown impl {impl!r}; choose one of {', '.join(IMPLS)}")
    return fused(dim_in, dim_hidden, batch_first=True) if impl == "fused" else loop(dim_in, dim_hidden)


class GRULayer(nn.Module):
    """GRU: forward(x (B, T, D), h0 (B, H)) -> h (B, T, H); step(x_t, h) -> h_t."""

    def __init__(self, dim_in: int, dim_hidden: int, impl: str = "fused"):
        super().__init__()
        self.impl = impl
        self.rnn = _build(nn.GRU, LoopGRU, dim_in, dim_hidden, impl)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        return self.rnn(x, None if h0 is None else h0.unsqueeze(0).contiguous())[0]

    def step(self, x_t: torch.Tensor, h_prev: torch.Tensor | None = None) -> torch.Tensor:
        return self(x_t.unsqueeze(1), h_prev)[:, 0]


class LSTMLayer(nn.Module):
    """LSTM: the state is (h, c), each (B, H); forward(x, state) -> h (B, T, H)."""

    def __init__(self, dim_in: int, dim_hidden: int, impl: str = "fused"):
        super().__init__()
        self.impl = impl
        self.rnn = _build(nn.LSTM, LoopLSTM, dim_in, dim_hidden, impl)

    def forward_state(self, x: torch.Tensor, state=None):
        if state is not None:
            state = tuple(s.unsqueeze(0).contiguous() for s in state)
        out, (h, c) = self.rnn(x, state)
        return out, (h[0], c[0])

    def forward(self, x: torch.Tensor, state=None) -> torch.Tensor:
        return self.forward_state(x, state)[0]

    def step_state(self, x_t: torch.Tensor, state=None):
        out, state = self.forward_state(x_t.unsqueeze(1), state)
        return out[:, 0], state
