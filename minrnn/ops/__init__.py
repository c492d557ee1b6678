"""The ops beneath the layers, one signature each, a reference beside every kernel.

- ``reference``: the scans and the fused gate scan in plain PyTorch (the loop, Listing 5, Listing 6's g).
- ``native``: the C kernels (csrc/), built on first use: ``linear_scan(a, b, h0)``,
  ``gate_scan(p, h0, mode, log_space, bias, resets)``, Mamba's S6 scan and RMSNorm.
- ``triton_scan``: the Triton kernels, ``linear_scan(a, b, h0)`` and
  ``gate_scan(p, h0, mode, log_space, bias, resets)`` (imported only when the ``triton`` backend runs).

Every scan returns the states h (B, T, H); the final state is ``h[:, -1]``. minrnn.backends puts them
in one table.
"""
