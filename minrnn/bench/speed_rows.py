"""The speed card's rows (minrnn.bench.speed_card): every implementation of the minGRU/minLSTM layer,
and what it replaces, as one callable x (B, T, dim) -> h (B, T, dim) with its parameters.

- ours: MinGRU/MinLSTM on each scan backend (minrnn.backends; the fused kernel where the backend has one);
- the paper's: the log-space scan (Listings 5, 8, 10) and GRU/LSTM as plain PyTorch loops (Section 4.1);
- torch.nn.GRU/LSTM (oneDNN on CPU, cuDNN on CUDA);
- peers, where installed: lucidrains' minGRU-pytorch (its log-space minGRU/minLSTM), torch's own
  associative scan, flash-linear-attention's HGRN ops and accelerated-scan, each on MinGRU's own
  coefficients (the projections and gates as ours, the scan theirs).

A row that cannot run here raises Unavailable with the reason, which the card prints in its cell.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from minrnn import MinGRU, MinLSTM, backends
from minrnn.baselines.loop_rnn import LoopGRU, LoopLSTM


class Unavailable(Exception):
    """This row cannot run on this machine; the message says why."""


@dataclass(frozen=True)
class Row:
    name: str
    group: str  # ours, paper, torch.nn, peer
    build: Callable[[int, torch.device], tuple[Callable, nn.Module]]


def _module(name: str, pip: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        raise Unavailable(f"not installed (pip install {pip})") from None


def _ours(cls, scan: str):
    def build(dim, device):
        why = backends.BACKENDS[scan].unavailable(device)
        interpreted = scan == "triton" and device.type == "cpu" and os.environ.get("TRITON_INTERPRET") == "1"
        if why and not interpreted:  # the GPU card's dry run runs the Triton kernels in the interpreter
            raise Unavailable(why)
        layer = cls(dim, dim, scan=scan).to(device)
        return layer, layer

    return build


def _triton_kernel(cls, chunked: bool):
    """MinGRU/MinLSTM on the triton backend with its kernel pinned: the loop over T
    (minrnn.ops.triton_scan.gate_scan) or the chunked scan (minrnn.ops.triton_chunked.chunked_gate_scan);
    the ``[triton]`` row takes whichever the shape chooses."""

    def build(dim, device):
        layer, _ = _ours(cls, "triton")(dim, device)
        from minrnn.ops import triton_chunked

        def run(x):
            with triton_chunked.pinned(chunked):
                return layer(x)

        return run, layer

    return build


def _torch_rnn(cls):
    def build(dim, device):
        rnn = cls(dim, dim, batch_first=True).to(device)
        return (lambda x: rnn(x)[0]), rnn

    return build


def _loop(cls):
    def build(dim, device):
        rnn = cls(dim, dim).to(device)
        return (lambda x: rnn(x)[0]), rnn

    return build


def _lucidrains(name: str):
    def build(dim, device):
        mod = _module("minGRU_pytorch." + name, "mingru-pytorch")
        layer = getattr(mod, name)(dim, expansion_factor=1.0).to(device)
        return layer, layer

    return build


def _on_coefficients(scan: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
    """A row that runs ``scan(a, b) -> h`` on MinGRU's own coefficients a = 1 - z, b = z h~ (log space)."""

    def build(dim, device):
        layer = MinGRU(dim, dim).to(device)
        return (lambda x: scan(*layer.coefficients(x))), layer

    return build


def _associative(device: torch.device):
    if device.type != "cuda":
        raise Unavailable("torch.associative_scan generates code for CUDA devices only")
    from torch._higher_order_ops.associative_scan import associative_scan

    def combine(left, right):
        return left[0] * right[0], right[0] * left[1] + right[1]

    return lambda a, b: associative_scan(combine, (a, b), dim=1, combine_mode="generic")[1]


def _torch_associative(dim, device):
    scan = _associative(device)
    return _on_coefficients(scan)(dim, device)


def _fla_hgrn(dim, device):
    """flash-linear-attention's HGRN scan, h_t = exp(g_t) h_{t-1} + x_t: g = log a, x = b (Triton, CUDA)."""
    hgrn = _module("fla.ops.hgrn", "flash-linear-attention")
    if device.type != "cuda":
        raise Unavailable("flash-linear-attention's kernels run on CUDA devices")
    return _on_coefficients(lambda a, b: hgrn.chunk_hgrn(b, a.log())[0])(dim, device)


def _accelerated_scan(dim, device):
    """accelerated-scan's warp kernel, on (B, C, T) with T a power of two (CUDA)."""
    warp = _module("accelerated_scan.warp", "accelerated-scan")
    if device.type != "cuda":
        raise Unavailable("accelerated-scan's kernels run on CUDA devices")
    scan = lambda a, b: warp.scan(a.mT.contiguous(), b.mT.contiguous()).mT  # noqa: E731
    return _on_coefficients(scan)(dim, device)


def rows() -> list[Row]:
    """Every row of the card, ours first, in the order the card shows them."""
    out = []
    for cls in (MinGRU, MinLSTM):
        for scan, record in backends.BACKENDS.items():
            if record.log_space:
                continue  # the paper's log-space scan is its own row below
            out.append(Row(f"{cls.__name__} [{scan}]", "ours", _ours(cls, scan)))
        for kernel in ("loop", "chunked"):
            out.append(Row(f"{cls.__name__} [triton {kernel}]", "ours", _triton_kernel(cls, kernel == "chunked")))
    out += [
        Row("MinGRU [paper's log-space scan]", "paper", _ours(MinGRU, "log")),
        Row("MinLSTM [paper's log-space scan]", "paper", _ours(MinLSTM, "log")),
        Row("GRU [paper's plain loop]", "paper", _loop(LoopGRU)),
        Row("LSTM [paper's plain loop]", "paper", _loop(LoopLSTM)),
        Row("torch.nn.GRU", "torch.nn", _torch_rnn(nn.GRU)),
        Row("torch.nn.LSTM", "torch.nn", _torch_rnn(nn.LSTM)),
        Row("minGRU-pytorch minGRU (lucidrains)", "peer", _lucidrains("minGRU")),
        Row("minGRU-pytorch minLSTM (lucidrains)", "peer", _lucidrains("minLSTM")),
        Row("torch associative_scan (MinGRU's gates)", "peer", _torch_associative),
        Row("fla HGRN chunk_hgrn (MinGRU's gates)", "peer", _fla_hgrn),
        Row("accelerated-scan warp (MinGRU's gates)", "peer", _accelerated_scan),
    ]
    return out


# The ratios the card reports: (label, numerator, denominator), each per round, with its spread.
RATIOS = [
    ("torch.nn.GRU / MinGRU", "torch.nn.GRU", "MinGRU"),
    ("torch.nn.LSTM / MinLSTM", "torch.nn.LSTM", "MinLSTM"),
    ("paper's log-space / MinGRU", "MinGRU [paper's log-space scan]", "MinGRU"),
    ("paper's GRU loop / MinGRU", "GRU [paper's plain loop]", "MinGRU"),
    ("minGRU-pytorch / MinGRU", "minGRU-pytorch minGRU (lucidrains)", "MinGRU"),
    ("minGRU-pytorch minLSTM / MinLSTM", "minGRU-pytorch minLSTM (lucidrains)", "MinLSTM"),
    ("MinGRU triton loop / chunked", "MinGRU [triton loop]", "MinGRU [triton chunked]"),
    ("MinLSTM triton loop / chunked", "MinLSTM [triton loop]", "MinLSTM [triton chunked]"),
]


def default_backend(cls_name: str, device: torch.device) -> str:
    """The row of ``MinGRU``/``MinLSTM`` with the device's default scan (what ``scan="auto"`` picks)."""
    return f"{cls_name} [{backends.resolve('auto', device)}]"
