"""GRU and LSTM as plain PyTorch loops over time (Section 2): the traditional RNNs the paper times.

torch.nn.GRU/LSTM call fused kernels (cuDNN on GPU, oneDNN/ATen on CPU); these loops are the same
equations written step by step, with the input projection for all steps done in one matmul and the
hidden-state matmul inside the loop. Parameters, gate order, inputs and outputs follow
torch.nn.GRU/LSTM with batch_first=True (states shaped (1, B, H)), so either can stand in for the other.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _LoopRNN(nn.Module):
    gates: int

    def __init__(self, dim_in: int, dim_hidden: int, bias: bool = True):
        super().__init__()
        self.dim_hidden = dim_hidden
        ref = (nn.GRU if self.gates == 3 else nn.LSTM)(dim_in, dim_hidden, bias=bias, batch_first=True)
        self.weight_ih_l0, self.weight_hh_l0 = ref.weight_ih_l0, ref.weight_hh_l0
        self.bias_ih_l0 = ref.bias_ih_l0 if bias else None
        self.bias_hh_l0 = ref.bias_hh_l0 if bias else None


class LoopGRU(_LoopRNN):
    """GRU (Cho et al., 2014) in torch.nn.GRU's convention: x (B, T, D) -> h (B, T, H)."""

    gates = 3

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        gi = F.linear(x, self.weight_ih_l0, self.bias_ih_l0)  # all steps at once
        h = x.new_zeros(x.shape[0], self.dim_hidden) if h0 is None else h0[0]
        out = []
        for gi_t in gi.unbind(1):
            gh = F.linear(h, self.weight_hh_l0, self.bias_hh_l0)
            i_r, i_z, i_n = gi_t.chunk(3, -1)
            h_r, h_z, h_n = gh.chunk(3, -1)
            r = torch.sigmoid(i_r + h_r)
            z = torch.sigmoid(i_z + h_z)
            n = torch.tanh(i_n + r * h_n)
            h = (1 - z) * n + z * h
            out.append(h)
        return torch.stack(out, 1), h.unsqueeze(0)


class LoopLSTM(_LoopRNN):
    """LSTM (Hochreiter & Schmidhuber, 1997) in torch.nn.LSTM's convention: x (B, T, D) -> h (B, T, H)."""

    gates = 4

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        gi = F.linear(x, self.weight_ih_l0, self.bias_ih_l0)
        B = x.shape[0]
        h, c = (x.new_zeros(B, self.dim_hidden), x.new_zeros(B, self.dim_hidden)) if state is None else state
        h, c = (h[0], c[0]) if h.dim() == 3 else (h, c)
        out = []
        for gi_t in gi.unbind(1):
            i, f, g, o = (gi_t + F.linear(h, self.weight_hh_l0, self.bias_hh_l0)).chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            out.append(h)
        return torch.stack(out, 1), (h.unsqueeze(0), c.unsqueeze(0))
