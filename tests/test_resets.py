"""Resets and packed sequences (issue 29, part 1): sequences packed into one row with resets give what
each gives alone, in outputs and gradients, on every backend (Triton under its interpreter), for the
layers, the scan and the full model with conv, MLP and a learned h0; step mode takes a per-step reset."""

import pytest
import torch

from minrnn import Block, CausalConv1d, MinGRU, MinLSTM, SequenceModel
from minrnn.ops.reference import scan_sequential
from minrnn.resets import resets_from_cu_seqlens
from minrnn.scan import scan

BACKENDS = ["sequential", "log", "cpu", "triton"]
LENGTHS = [5, 17, 1, 70, 3]  # one of a single step, one longer than the log scan's chunk of 64
CU = [0, 5, 22, 23, 93, 96]


def test_cu_seqlens_give_a_reset_at_each_start():
    r = resets_from_cu_seqlens(CU)
    assert r.shape == (1, 96) and r.dtype == torch.bool
    assert torch.nonzero(r[0]).flatten().tolist() == CU[:-1]


@pytest.mark.parametrize("bad", [[1, 4], [0, 3, 3], [0], [[0, 2]], [0.0, 2.0]])
def test_bad_cu_seqlens_are_one_message(bad):
    with pytest.raises(ValueError, match="cu_seqlens"):
        resets_from_cu_seqlens(torch.tensor(bad))


def alone(fn, x):
    """fn run on each packed sequence by itself, outputs put back end to end."""
    return torch.cat([fn(x[:, a:b]) for a, b in zip(CU[:-1], CU[1:], strict=True)], dim=1)


def grads(out, weights, inputs):
    params = [p for p in inputs if p.requires_grad]
    return torch.autograd.grad((out * weights).sum(), params)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("learned_h0", [False, True])
@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
def test_a_packed_row_equals_each_sequence_alone_in_outputs_and_gradients(cls, learned_h0, backend):
    torch.manual_seed(0)
    layer = cls(4, 6, scan=backend, init_hidden_state=learned_h0).double()
    x = torch.randn(1, CU[-1], 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(1, CU[-1], 6, dtype=torch.float64)
    packed = layer(x, resets=resets_from_cu_seqlens(CU))
    single = alone(layer, x)
    torch.testing.assert_close(packed, single, rtol=0, atol=1e-10)
    inputs = [x, *layer.parameters()]
    for got, want in zip(grads(packed, w, inputs), grads(single, w, inputs), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
def test_resets_anywhere_in_a_batch_equal_step_mode_with_a_reset_per_step(cls, backend):
    torch.manual_seed(1)
    layer = cls(3, 5, scan=backend, init_hidden_state=True).double()
    x = torch.randn(3, 40, 3, dtype=torch.float64)
    resets = torch.rand(3, 40) < 0.15
    resets[0, 0] = True  # a reset at t = 0 replaces the h0 passed in
    h0 = torch.rand(3, 5, dtype=torch.float64) + 0.1
    h = layer(x, h0, resets=resets)
    h_t, steps = h0, []
    for t in range(40):
        h_t = layer.step(x[:, t], h_t, reset=resets[:, t])
        steps.append(h_t)
    torch.testing.assert_close(h, torch.stack(steps, 1), rtol=0, atol=1e-10)
    assert not torch.allclose(h, layer(x, h0))  # the resets changed something


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_scan_restarts_from_zero_at_each_reset_on_every_backend(backend):
    torch.manual_seed(2)
    a = torch.rand(2, 50, 3, dtype=torch.float64) + 0.01
    b = torch.rand(2, 50, 3, dtype=torch.float64) + 0.01
    h0 = torch.rand(2, 3, dtype=torch.float64) + 0.1
    resets = torch.rand(2, 50) < 0.2
    want, h = [], h0
    for t in range(50):  # the definition, written out
        h = a[:, t] * torch.where(resets[:, t, None], torch.zeros_like(h), h) + b[:, t]
        want.append(h)
    got = scan(a, b, h0, backend=backend, resets=resets)
    torch.testing.assert_close(got, torch.stack(want, 1), rtol=0, atol=1e-12)
    torch.testing.assert_close(scan(a, b, h0, backend=backend), scan_sequential(a, b, h0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_packed_model_with_conv_mlp_and_learned_h0_equals_each_sequence_alone(backend):
    torch.manual_seed(3)
    block = dict(rnn="minlstm", expansion=2, conv=True, mlp=True, rnn_kwargs=dict(scan=backend, init_hidden_state=True))
    model = SequenceModel(dim=8, depth=2, vocab_size=11, dim_out=11, block=block).double()
    x = torch.randint(0, 11, (1, CU[-1]))
    w = torch.randn(1, CU[-1], 11, dtype=torch.float64)
    packed = model(x, resets=resets_from_cu_seqlens(CU))
    single = alone(model, x)
    torch.testing.assert_close(packed, single, rtol=0, atol=1e-10)
    params = list(model.parameters())
    for got, want in zip(grads(packed, w, params), grads(single, w, params), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


def test_a_packed_model_in_chunks_and_in_step_mode_equals_one_pass():
    """Chunk borders fall inside sequences and on their starts; the state carried over a border holds
    only the current sequence's inputs (the conv's too)."""
    torch.manual_seed(4)
    block = dict(rnn="mingru", conv=True, mlp=True, rnn_kwargs=dict(init_hidden_state=True))
    model = SequenceModel(dim=6, depth=2, vocab_size=9, dim_out=9, block=block).double().eval()
    x = torch.randint(0, 9, (2, 60))
    resets = torch.zeros(2, 60, dtype=torch.bool)
    resets[0, [0, 7, 22, 23, 40]] = True
    resets[1, [0, 21, 41]] = True
    whole = model(x, resets=resets)
    state, parts = None, []
    for a, b in [(0, 7), (7, 22), (22, 24), (24, 41), (41, 60)]:
        logits, state = model(x[:, a:b], state, return_state=True, resets=resets[:, a:b])
        parts.append(logits)
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=0, atol=1e-12)
    state, steps = None, []
    for t in range(60):
        logits, state = model.step(x[:, t], state, reset=resets[:, t])
        steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), whole, rtol=0, atol=1e-12)


def test_the_conv_never_mixes_two_sequences():
    torch.manual_seed(5)
    conv = CausalConv1d(4, kernel_size=4).double()
    x = torch.randn(1, CU[-1], 4, dtype=torch.float64)
    y, _ = conv(x, resets=resets_from_cu_seqlens(CU))
    torch.testing.assert_close(y, alone(lambda s: conv(s)[0], x), rtol=0, atol=1e-12)
    x2 = x.clone()
    x2[:, : CU[1]] += 100.0  # changing the first sequence changes nothing after it
    y2, _ = conv(x2, resets=resets_from_cu_seqlens(CU))
    torch.testing.assert_close(y2[:, CU[1] :], y[:, CU[1] :], rtol=0, atol=0)


def test_the_no_reset_path_is_unchanged():
    torch.manual_seed(6)
    layer = MinGRU(4, 6).double()
    x = torch.randn(2, 30, 4, dtype=torch.float64)
    none = torch.zeros(2, 30, dtype=torch.bool)
    torch.testing.assert_close(layer(x, resets=none), layer(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "resets, match",
    [
        (torch.zeros(2, 30), "bool tensor"),
        (torch.zeros(2, 29, dtype=torch.bool), r"shape \(B, T\) = \(2, 30\)"),
        (torch.zeros(30, dtype=torch.bool), r"shape \(B, T\)"),
    ],
)
def test_bad_resets_are_one_message(resets, match):
    layer = MinGRU(4, 6)
    with pytest.raises(ValueError, match=match):
        layer(torch.randn(2, 30, 4), resets=resets)
    with pytest.raises(ValueError, match=match):
        scan(torch.rand(2, 30, 6), torch.rand(2, 30, 6), resets=resets)


def test_a_layer_that_cannot_reset_says_so():
    block = Block(4, rnn="baselines.torch_rnn.GRULayer")
    with pytest.raises(ValueError, match="resets need a layer that takes them"):
        block(torch.randn(1, 5, 4), resets=torch.zeros(1, 5, dtype=torch.bool))
