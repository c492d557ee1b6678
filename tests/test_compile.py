"""torch.compile(fullgraph=True) of the layers and the model equals eager mode (the kernels are custom ops)."""

import pytest
import torch

from minrnn import MinGRU, MinLSTM, SequenceModel
from minrnn.baselines.mamba import Mamba
from minrnn.ops import native


def outputs_and_grads(module, x):
    module.zero_grad()
    y = module(x)
    y.float().pow(2).mean().backward()
    return y.detach(), [p.grad.clone() for p in module.parameters()]


@pytest.mark.parametrize(
    "make",
    [lambda: MinGRU(8, 16), lambda: MinLSTM(8, 16), lambda: MinLSTM(8, 16, log_space=False, normalize_gates=True)],
    ids=["mingru", "minlstm", "minlstm-vanilla-norm"],
)
def test_compiled_layer_equals_eager(make):
    torch.manual_seed(0)
    layer, x = make(), torch.randn(3, 37, 8)
    assert layer.scan == "auto" and native.available()
    eager = outputs_and_grads(layer, x)
    compiled = outputs_and_grads(torch.compile(layer, fullgraph=True, backend="aot_eager"), x)
    torch.testing.assert_close(compiled[0], eager[0], rtol=0, atol=0)
    for g_c, g_e in zip(compiled[1], eager[1], strict=True):
        torch.testing.assert_close(g_c, g_e, rtol=1e-6, atol=1e-7)


def test_compiled_model_with_inductor_equals_eager():
    torch.manual_seed(0)
    block = {"rnn": "mingru", "expansion": 2, "conv": True, "mlp": True}
    model, x = SequenceModel(dim=16, depth=2, dim_out=5, vocab_size=11, block=block), torch.randint(0, 11, (4, 29))
    eager = outputs_and_grads(model, x)
    compiled = outputs_and_grads(torch.compile(model, fullgraph=True), x)
    torch.testing.assert_close(compiled[0], eager[0], rtol=1e-5, atol=1e-6)
    for g_c, g_e in zip(compiled[1], eager[1], strict=True):
        torch.testing.assert_close(g_c, g_e, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("rnn", ["mingru", "minlstm"])
def test_compiled_step_generates_what_eager_step_does(rnn):
    """model.step through torch.compile (inductor; scripts/bench_inference.py "(compiled step)"): the same
    logits token after token, from the state a parallel-mode prefill leaves (strided views) and then its own."""
    torch.manual_seed(0)
    model = SequenceModel(dim=16, depth=2, dim_out=7, vocab_size=7, block={"rnn": rnn, "conv": True}).eval()
    step = torch.compile(model.step, fullgraph=True, dynamic=False)
    with torch.no_grad():
        logits, state = model(torch.randint(0, 7, (3, 9)), return_state=True)
        eager_state, tok = state, logits[:, -1].argmax(-1)
        for _ in range(4):
            want, eager_state = model.step(tok, eager_state)
            got, state = step(tok, state)
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
            tok = want.argmax(-1)


def test_the_kernels_are_registered_operators():
    a, b = torch.rand(2, 5, 3), torch.randn(2, 5, 3)
    torch.library.opcheck(torch.ops.minrnn.linear_scan, (a, b, torch.randn(2, 3)))
    torch.library.opcheck(torch.ops.minrnn.gate_scan, (torch.randn(2, 5, 6), None, "gru", True))
    u, delta = torch.randn(2, 5, 3, requires_grad=True), torch.rand(2, 5, 3, requires_grad=True)
    A, Bm, Cm = (-torch.rand(3, 4)).requires_grad_(), torch.randn(2, 5, 4), torch.randn(2, 5, 4)
    torch.library.opcheck(torch.ops.minrnn.selective_scan, (u, delta, A, Bm.requires_grad_(), Cm.requires_grad_()))
    strided = torch.randn(2, 5, 9)[:, :, 1:7].requires_grad_()  # a view: the real ops return contiguous tensors
    torch.library.opcheck(torch.ops.minrnn.gate_scan, (strided, None, "gru", True, torch.randn(6)))
    x = torch.randn(3, 4, 8).transpose(0, 1).requires_grad_()
    torch.library.opcheck(torch.ops.minrnn.rms_norm, (x, torch.rand(8, requires_grad=True), 1e-6))


def test_compiled_mamba_equals_eager():
    """The S6 kernel as an operator: the Mamba baseline compiles in one graph (it once ran its ctypes
    calls under Dynamo, the pattern that corrupted memory for the minRNN layers)."""
    torch.manual_seed(0)
    model = Mamba(dim=16, depth=1, dim_out=5, vocab_size=11, d_state=4)
    x = torch.randint(0, 11, (2, 13))
    eager = outputs_and_grads(model, x)
    compiled = outputs_and_grads(torch.compile(model, fullgraph=True), x)  # inductor checks every stride
    torch.testing.assert_close(compiled[0], eager[0], rtol=1e-6, atol=1e-7)
    for g_c, g_e in zip(compiled[1], eager[1], strict=True):
        torch.testing.assert_close(g_c, g_e, rtol=1e-5, atol=1e-7)


def test_compiled_mamba_table2_network_trains_like_eager():
    """The Table 2 Mamba network under inductor (its strided S6 inputs once failed inductor's stride checks)."""
    from minrnn.bench.grid import build_model

    torch.manual_seed(0)
    model, vocab = build_model("Mamba", "cpu", ["task.arch.dim=16"], torch.device("cpu"))
    x = torch.randint(0, vocab, (4, 20))
    eager = outputs_and_grads(model, x)
    compiled = outputs_and_grads(torch.compile(model, fullgraph=True), x)
    torch.testing.assert_close(compiled[0], eager[0], rtol=1e-5, atol=1e-6)
    for g_c, g_e in zip(compiled[1], eager[1], strict=True):
        torch.testing.assert_close(g_c, g_e, rtol=1e-4, atol=1e-6)
