"""The residual block of Appendix C.2: [Conv4] -> minRNN (expanded, then projected down) -> [MLP].

    x = x + Conv(x)                          optional causal depthwise conv, kernel 4
    x = x + Dropout(Down(RNN(Norm(x))))      minGRU / minLSTM with dim_hidden = expansion * dim
    x = x + MLP(Norm(x))                     optional two-layer GELU MLP (dropout inside)

The per-task architectures are settings: selective copy = RNN only; Chomsky = conv + RNN; LRA and
language modelling = conv + RNN + MLP; RL = RNN + MLP. Residual order, RMSNorm, the biased down-
projection and the MLP follow the authors' code (models/model.py). There, dropout acts only inside
the MLP; ``rnn_dropout`` also applies it to the RNN branch (the paper's selective-copy setting).

Every block runs in parallel mode (``forward``) or one token at a time (``step``) with a state of
constant size: the conv keeps its last kernel-1 inputs, the RNN its hidden state.
"""

from __future__ import annotations

import importlib

import torch
import torch.nn.functional as F
from torch import nn

from minrnn import checks
from minrnn.layers import MinGRU, MinLSTM
from minrnn.ops import native
from minrnn.pretrained import Pretrained

RNNS = {"mingru": MinGRU, "minlstm": MinLSTM}


def rnn_class(name: str) -> type[nn.Module]:
    """A layer class by short name (mingru, minlstm) or dotted path (minrnn.baselines.torch_rnn.GRULayer).

    The class is built as cls(dim_in, dim_hidden, **rnn_kwargs) and follows MinGRU's interface:
    forward(x, h0) -> h and step(x_t, h) -> h_t. A layer whose state is not its output (an LSTM's
    (h, c)) adds forward_state(x, state) -> (h, state) and step_state(x_t, state) -> (h_t, state).
    """
    if name in RNNS:
        return RNNS[name]
    module, _, cls = name.rpartition(".")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError, ValueError):
        raise ValueError(
            f"unknown rnn {name!r}; choose one of {', '.join(RNNS)} or a dotted class path "
            "(module.Class, the module importable: on PYTHONPATH)"
        ) from None


class RMSNorm(nn.RMSNorm):
    """torch.nn.RMSNorm (same parameters and state dict) that runs the fused CPU kernel on float32/64
    CPU tensors: torch's CPU RMSNorm is a composite of five passes over memory, which made norms
    about half of a model's training step (minrnn.ops.native.rms_norm)."""

    FUSED_FROM = 1 << 16  # elements; below this (one token at a time) the op's call overhead outweighs it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fused = (
            x.numel() >= self.FUSED_FROM
            and x.device.type == "cpu"
            and x.dtype in (torch.float32, torch.float64)
            and self.weight is not None
            and self.weight.dtype == x.dtype
            and self.normalized_shape == (x.shape[-1],)
            and not torch.is_autocast_enabled("cpu")
            and native.available()
        )
        if not fused:
            return super().forward(x)
        eps = self.eps if self.eps is not None else torch.finfo(x.dtype).eps
        return native.rms_norm(x, self.weight, eps)[0]


NORMS = {"rms": RMSNorm, "layer": nn.LayerNorm}
State = tuple  # (conv inputs (B, k-1, D) or None, the rnn layer's state or None)


class CausalConv1d(nn.Module):
    """Depthwise temporal conv (left-padded, so causal) followed by a pointwise conv, as in Mamba/xLSTM.

    ``forward(x, state)``: x (B, T, D); state (B, k-1, D) holds the inputs before x (zeros if None).
    Returns (y, the last k-1 inputs).
    """

    def __init__(self, dim: int, kernel_size: int = 4):
        super().__init__()
        if kernel_size < 1:
            raise ValueError(f"conv kernel_size must be >= 1, got {kernel_size}")
        self.kernel_size = kernel_size
        self.depthwise = nn.Conv1d(dim, dim, kernel_size, groups=dim)
        self.pointwise = nn.Conv1d(dim, dim, 1)

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None, resets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.kernel_size
        if state is None:
            state = x.new_zeros(x.shape[0], k - 1, x.shape[2])
        window = torch.cat([state, x], dim=1)  # (B, k-1+T, D)
        if resets is not None and k > 1:
            return self._forward_resets(window, resets)
        y = self.pointwise(self.depthwise(window.transpose(1, 2))).transpose(1, 2)
        return y, window[:, window.shape[1] - (k - 1) :]

    def _forward_resets(self, window: torch.Tensor, resets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The conv where no window mixes two sequences: an input before the start of the output's
        sequence counts as the zero padding a sequence run alone has (minrnn.resets)."""
        k = self.kernel_size
        segment = F.pad(resets.long().cumsum(1), (k - 1, 0))  # (B, k-1+T): the inputs before x are segment 0
        same = segment.unfold(1, k, 1) == segment[:, k - 1 :].unsqueeze(-1)  # (B, T, k)
        inputs = window.unfold(1, k, 1) * same.unsqueeze(2).to(window.dtype)  # (B, T, D, k)
        y = torch.einsum("btdk,dk->btd", inputs, self.depthwise.weight.squeeze(1)) + self.depthwise.bias
        y = F.linear(y, self.pointwise.weight.squeeze(-1), self.pointwise.bias)
        last = window[:, window.shape[1] - (k - 1) :]  # the next chunk's inputs before it: this sequence's only
        kept = segment[:, segment.shape[1] - (k - 1) :] == segment[:, -1:]
        return y, last * kept.unsqueeze(-1).to(window.dtype)

    def step(
        self, x_t: torch.Tensor, state: torch.Tensor | None = None, reset: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One token: x_t (B, D) -> y_t (B, D); O(k D) work and memory. ``reset`` (B,): rows that start anew."""
        k = self.kernel_size
        if state is None:
            state = x_t.new_zeros(x_t.shape[0], k - 1, x_t.shape[1])
        elif reset is not None:
            state = state.masked_fill(reset.view(-1, 1, 1), 0.0)
        window = torch.cat([state, x_t.unsqueeze(1)], dim=1)  # (B, k, D)
        y = torch.einsum("bkd,dk->bd", window, self.depthwise.weight.squeeze(1)) + self.depthwise.bias
        y = F.linear(y, self.pointwise.weight.squeeze(-1), self.pointwise.bias)
        return y, window[:, 1:]


class MLP(nn.Module):
    """Two-layer GELU MLP with hidden width mult * dim."""

    def __init__(self, dim: int, mult: float = 2.0, dropout: float = 0.0):
        super().__init__()
        hidden = int(dim * mult)
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Block(nn.Module, Pretrained):
    """One residual layer; see the module docstring. ``rnn_kwargs`` go to MinGRU/MinLSTM."""

    def __init__(
        self,
        dim: int,
        *,
        rnn: str = "mingru",
        expansion: float = 1.0,
        conv: bool = False,
        conv_kernel: int = 4,
        mlp: bool = False,
        mlp_mult: float = 2.0,
        dropout: float = 0.0,
        rnn_dropout: float = 0.0,
        norm: str = "rms",
        rnn_kwargs: dict | None = None,
    ):
        super().__init__()
        self.config = dict(dim=dim, rnn=rnn, expansion=expansion, conv=conv, conv_kernel=conv_kernel, mlp=mlp)
        self.config |= dict(mlp_mult=mlp_mult, dropout=dropout, rnn_dropout=rnn_dropout, norm=norm)
        self.config |= dict(rnn_kwargs=dict(rnn_kwargs or {}))  # the constructor's arguments (minrnn.pretrained)
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
        dim_hidden = int(dim * expansion)
        if dim_hidden < 1:
            raise ValueError(f"expansion {expansion} leaves no hidden units for dim {dim}")
        self.conv = CausalConv1d(dim, conv_kernel) if conv else None
        self.norm = NORMS[norm](dim)
        self.rnn = rnn_class(rnn)(dim, dim_hidden, **(rnn_kwargs or {}))
        self.down = nn.Linear(dim_hidden, dim)
        self.rnn_dropout = nn.Dropout(rnn_dropout)
        self.mlp_norm = NORMS[norm](dim) if mlp else None
        self.mlp = MLP(dim, mlp_mult, dropout) if mlp else None

    def _resets_supported(self) -> None:
        if not getattr(self.rnn, "supports_resets", False):
            raise checks.ArgumentError(
                f"resets need a layer that takes them (MinGRU, MinLSTM), not {type(self.rnn).__name__}"
            )

    def forward(
        self, x: torch.Tensor, state: State | None = None, resets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        """Parallel mode: x (B, T, D) -> (y (B, T, D), state after the last token). ``resets`` (B, T)
        bool: where a new sequence starts; neither the conv nor the RNN sees across it (minrnn.resets)."""
        checks.block_call(self, x, step=False)
        conv_state, h0 = state if state is not None else (None, None)
        if resets is not None:
            self._resets_supported()
            checks.resets("Block", resets, x.shape[0], x.shape[1], x.device)
        if self.conv is not None:
            c, conv_state = self.conv(x, conv_state, resets)
            x = x + c
        if hasattr(self.rnn, "forward_state"):
            h, rnn_state = self.rnn.forward_state(self.norm(x), h0)
        else:
            h = self.rnn(self.norm(x), h0, resets=resets) if resets is not None else self.rnn(self.norm(x), h0)
            rnn_state = h[:, -1]
        x = x + self.rnn_dropout(self.down(h))
        if self.mlp is not None:
            x = x + self.mlp(self.mlp_norm(x))
        return x, (conv_state, rnn_state)

    def step(
        self, x_t: torch.Tensor, state: State | None = None, reset: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        """Sequential mode: x_t (B, D) -> (y_t (B, D), new state); memory independent of position.
        ``reset`` (B,) bool: rows where a new sequence starts at this token."""
        checks.block_call(self, x_t, step=True)
        conv_state, h_prev = state if state is not None else (None, None)
        if reset is not None:
            self._resets_supported()
            checks.resets("Block.step", reset, x_t.shape[0], None, x_t.device)
        if self.conv is not None:
            c, conv_state = self.conv.step(x_t, conv_state, reset)
            x_t = x_t + c
        if hasattr(self.rnn, "step_state"):
            h_t, rnn_state = self.rnn.step_state(self.norm(x_t), h_prev)
        elif reset is not None:
            h_t = rnn_state = self.rnn.step(self.norm(x_t), h_prev, reset)
        else:
            h_t = rnn_state = self.rnn.step(self.norm(x_t), h_prev)
        x_t = x_t + self.rnn_dropout(self.down(h_t))
        if self.mlp is not None:
            x_t = x_t + self.mlp(self.mlp_norm(x_t))
        return x_t, (conv_state, rnn_state)
