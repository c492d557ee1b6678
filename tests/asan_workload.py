"""Run by tests/test_native_asan.py under AddressSanitizer: every kernel, forward and backward (the gate scan
with resets too), over shapes that take every thread split (batch rows, channel blocks, one job), against
the reference; then torch.compile of the layers (the use-after-free of the GPU-path issue), resets too."""

import torch

from minrnn import MinGRU, MinLSTM, SequenceModel
from minrnn.baselines.mamba import selective_scan
from minrnn.decode import Decoder
from minrnn.ops import native
from minrnn.ops.reference import gate_scan as reference_gate_scan
from minrnn.ops.reference import scan_sequential
from minrnn.ops.step import gate_step

torch.set_num_threads(2)
for B, T, C in [(1, 1, 1), (3, 17, 5), (1, 300, 256), (8, 257, 33), (64, 64, 64)]:
    for dtype in (torch.float32, torch.float64):
        a = torch.rand(B, T, C, dtype=dtype, requires_grad=True)
        b = torch.randn(B, T, C, dtype=dtype, requires_grad=True)
        for h0 in (None, torch.randn(B, C, dtype=dtype, requires_grad=True)):
            h = native.linear_scan(a, b, h0)
            torch.testing.assert_close(h, scan_sequential(a, b, h0))
            h.sum().backward()
        for mode, P in (("gru", 2), ("lstm", 3), ("lstm_norm", 3)):
            p = torch.randn(B, T, P * C, dtype=dtype, requires_grad=True)
            bias = torch.randn(P * C, dtype=dtype, requires_grad=True)
            resets = torch.rand(B, T) < 0.2  # the fused reset path (a reset at t = 0 too)
            resets[:, 0] = True
            for h0 in (None, torch.rand(B, C, dtype=dtype)):
                native.gate_scan(p, h0, mode, True).square().sum().backward()
                native.gate_scan(p, h0, mode, False, bias).square().sum().backward()
                h = native.gate_scan(p, h0, mode, False, bias, resets)
                torch.testing.assert_close(h, reference_gate_scan(p, h0, mode, False, bias, resets))
                h.square().sum().backward()
        x = torch.randn(B, T, C, dtype=dtype, requires_grad=True)
        w = torch.rand(C, dtype=dtype, requires_grad=True)
        y = native.rms_norm(x, w, 1e-6)[0]
        torch.testing.assert_close(y, torch.nn.functional.rms_norm(x, (C,), w, 1e-6))
        y.square().sum().backward()
# mamba-ssm's layout: u, delta (b, d, l); A (d, n); B, C (b, n, l)
for L in (40, 150):  # one chunk of the kept states, and three (the last one short)
    u, delta = torch.randn(2, 12, L, requires_grad=True), torch.rand(2, 12, L, requires_grad=True)
    A, Bm, Cm = -torch.rand(12, 4), torch.randn(2, 4, L), torch.randn(2, 4, L)
    selective_scan(u, delta, A, Bm, Cm).sum().backward()
for layer in (MinGRU(64, 128), MinLSTM(64, 128)):
    compiled = torch.compile(layer, backend="aot_eager")
    for _ in range(3):
        compiled(torch.randn(4, 50, 64)).sum().backward()
        compiled(torch.randn(4, 50, 64), resets=torch.rand(4, 50) < 0.1).sum().backward()
# the decoding kernels (csrc/step.c): the gate step operator and a decoder over every block part
for dtype in (torch.float32, torch.float64):
    for mode, P in (("gru", 2), ("lstm", 3), ("lstm_norm", 3)):
        gate_step(torch.randn(5, P * 33, dtype=dtype), torch.rand(5, 33, dtype=dtype), mode, True)
    for rnn, norm in (("mingru", "rms"), ("minlstm", "layer")):
        block = dict(rnn=rnn, expansion=2, conv=True, mlp=True)
        with torch.no_grad():
            m = SequenceModel(dim=20, depth=2, dim_out=7, vocab_size=7, block=block, norm=norm).to(dtype).eval()
            x = torch.randint(0, 7, (3, 6))
            full, decoder = m(x), Decoder(m, 3)
            decoder.load(None)
            for t in range(6):
                torch.testing.assert_close(decoder.step(x[:, t]), full[:, t])
print("asan workload done")
