"""The layers that the layer benchmark (scripts/bench_layers.py) and ``make gpu-check`` time, and how.

Forward + backward of one layer on x (B, T, dim), every model once per round in interleaved rounds
(a machine whose speed drifts slows every model alike), median over rounds, CUDA synchronised.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from minrnn import MinGRU, MinLSTM
from minrnn.baselines.loop_rnn import LoopGRU, LoopLSTM

# torch.nn RNNs and the plain loops return (out, h)
RETURN_PAIRS = {"nn.GRU (fused)", "nn.LSTM (fused)", "GRU loop (plain PyTorch)", "LSTM loop (plain PyTorch)"}


class Projections(nn.Module):
    """MinGRU's own Linear projections alone (linear_z and linear_h as one matmul, as the layer runs them)."""

    def __init__(self, layer: MinGRU):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        lins = self.layer._projections
        return F.linear(x, torch.cat([lin.weight for lin in lins]), torch.cat([lin.bias for lin in lins]))


class WithResets(nn.Module):
    """A layer on packed sequences: a reset every ``every`` steps (minrnn.resets), as packing sequences
    of that length end to end gives; times the reset path against the layer without resets."""

    def __init__(self, layer: nn.Module, every: int = 256):
        super().__init__()
        self.layer, self.every = layer, every

    def forward(self, x):
        resets = torch.zeros(x.shape[:2], dtype=torch.bool, device=x.device)
        resets[:, :: self.every] = True
        return self.layer(x, resets=resets)


def layer_models(dim: int) -> dict[str, nn.Module]:
    """MinGRU/MinLSTM with the device's default scan (fused kernel), on packed sequences (the reset
    path) and with the paper's log-space scan, beside torch.nn's fused GRU/LSTM and GRU/LSTM as plain
    loops (what Section 4.1 compares with)."""
    mingru, minlstm = MinGRU(dim, dim), MinLSTM(dim, dim)
    return {
        "MinGRU": mingru,
        "MinLSTM": minlstm,
        "MinGRU, packed (a reset every 256 steps)": WithResets(mingru),
        "MinLSTM, packed (a reset every 256 steps)": WithResets(minlstm),
        "MinGRU (log-space scan)": MinGRU(dim, dim, scan="log"),
        "MinLSTM (log-space scan)": MinLSTM(dim, dim, scan="log"),
        "MinGRU projections only": Projections(mingru),
        "nn.GRU (fused)": nn.GRU(dim, dim, batch_first=True),
        "nn.LSTM (fused)": nn.LSTM(dim, dim, batch_first=True),
        "GRU loop (plain PyTorch)": LoopGRU(dim, dim),
        "LSTM loop (plain PyTorch)": LoopLSTM(dim, dim),
    }


def callable_of(name: str, module: nn.Module):
    """x -> the layer's output sequence."""
    return (lambda x: module(x)[0]) if name in RETURN_PAIRS else module


def time_fwd_bwd(fns: dict, x: torch.Tensor, repeats: int) -> dict[str, float]:
    """Median forward+backward seconds of each (fn, params) in ``fns``, timed in interleaved rounds."""
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)

    def once(fn, params):
        for p in params:
            p.grad = None
        sync()
        t0 = time.perf_counter()
        fn(x).mean().backward()
        sync()
        return time.perf_counter() - t0

    for fn, params in fns.values():
        once(fn, params)  # warm-up (also builds or compiles the kernels on first use)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, (fn, params) in fns.items():
            times[name].append(once(fn, params))
    return {name: statistics.median(ts) for name, ts in times.items()}
