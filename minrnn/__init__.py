"""minrnn: minGRU and minLSTM from "Were RNNs All We Needed?" (Feng et al., 2024).

    from minrnn import MinGRU, MinLSTM
    layer = MinGRU(dim_in, dim_hidden)     # log_space=True by default (Appendix B)
    h = layer(x)                           # (B, T, dim_in) -> (B, T, dim_hidden), parallel mode
    h_t = layer.step(x_t, h_prev)          # sequential mode
    h = layer(packed, resets=resets)       # packed sequences (minrnn.resets)

The scans themselves: ``from minrnn.scan import scan`` on any backend (minrnn.backends), the references
in minrnn.ops.reference, the kernels in minrnn.ops.
"""

import os

# Tensors over 32 MiB (every activation of a long sequence) get fresh pages from the kernel on each
# allocation, and faulting them in cost more than the kernels themselves: writing a fresh 256 MiB
# tensor took 160 ms here, 25 ms once mapped. torch's own switch backs such tensors with huge pages
# (read at allocation time); set THP_MEM_ALLOC_ENABLE=0 to opt out.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

from minrnn.blocks import Block, CausalConv1d  # noqa: E402
from minrnn.layers import MinGRU, MinLSTM, g, log_g  # noqa: E402
from minrnn.model import SequenceModel  # noqa: E402
from minrnn.ops.reference import parallel_scan_log  # noqa: E402
from minrnn.pretrained import load_pretrained, save_pretrained  # noqa: E402
from minrnn.resets import resets_from_cu_seqlens  # noqa: E402

__all__ = [
    "Block",
    "CausalConv1d",
    "MinGRU",
    "MinLSTM",
    "SequenceModel",
    "g",
    "load_pretrained",
    "log_g",
    "parallel_scan_log",
    "resets_from_cu_seqlens",
    "save_pretrained",
]
__version__ = "0.1.0"
