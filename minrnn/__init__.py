"""minrnn: minGRU and minLSTM from "Were RNNs All We Needed?" (Feng et al., 2024).

    from minrnn import MinGRU, MinLSTM
    layer = MinGRU(dim_in, dim_hidden)     # log_space=True by default (Appendix B)
    h = layer(x)                           # (B, T, dim_in) -> (B, T, dim_hidden), parallel mode
    h_t = layer.step(x_t, h_prev)          # sequential mode

The scans themselves: ``from minrnn.scan import scan`` (one function per backend in minrnn.scan).
"""

from minrnn.blocks import Block, CausalConv1d
from minrnn.layers import MinGRU, MinLSTM, g, log_g
from minrnn.model import SequenceModel
from minrnn.scan import parallel_scan_log

__all__ = ["Block", "CausalConv1d", "MinGRU", "MinLSTM", "SequenceModel", "g", "log_g", "parallel_scan_log"]
__version__ = "0.1.0"
