"""The fast decoding step (minrnn.decode) against the eager step and parallel mode, and generate() with
it drawing the same tokens as without it: with either kernel set, the C kernels (csrc/step.c, CPU) and
torch ops with the Triton gate step (CUDA's, here in Triton's interpreter on CPU tensors)."""

import pytest
import torch

from minrnn import SequenceModel, decode
from minrnn.checks import ArgumentError
from minrnn.decode import Decoder, problem
from minrnn.layers import MinGRU, MinLSTM
from minrnn.ops.step import gate_step

VOCAB = 13
BLOCKS = {
    "mingru": dict(rnn="mingru", expansion=2, conv=True, mlp=True),
    "minlstm": dict(rnn="minlstm", expansion=2, conv=True, mlp=True),
    "minlstm-normalized-vanilla": dict(rnn="minlstm", rnn_kwargs=dict(normalize_gates=True, log_space=False)),
    "mingru-learned-h0-layernorm": dict(rnn="mingru", conv=True, rnn_kwargs=dict(init_hidden_state=True)),
}


def model(block: str, dtype=torch.float64, norm="rms", seed=0) -> SequenceModel:
    torch.manual_seed(seed)
    norm = "layer" if "layernorm" in block else norm
    m = SequenceModel(dim=16, depth=2, dim_out=VOCAB, vocab_size=VOCAB, block=BLOCKS[block], norm=norm)
    return m.to(dtype).eval()


# the interpreter runs each Triton program on its own (one a row): the Triton set at a small batch
KERNELS_BATCH = [("c", 1), ("c", 64), ("triton", 3)]


@pytest.mark.parametrize("kernels,batch", KERNELS_BATCH)
@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("prefill", [False, True])
@torch.no_grad()
def test_fast_step_equals_eager_step_and_parallel_mode(block, dtype, batch, prefill, kernels):
    m = model(block, dtype)
    x = torch.randint(0, VOCAB, (batch, 12))
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=2e-5, atol=2e-5)
    full = m(x)
    start, state = (5, m(x[:, :5], return_state=True)[1]) if prefill else (0, None)  # h0: a prefill's state
    decoder = Decoder(m, batch, kernels)
    assert decoder.path == {"c": "csrc/step.c's C kernels", "triton": "torch ops and the Triton gate step"}[kernels]
    decoder.load(state)
    for t in range(start, 12):
        eager, state = m.step(x[:, t], state)
        fast = decoder.step(x[:, t])
        torch.testing.assert_close(fast, eager, **tol)
        torch.testing.assert_close(fast, full[:, t], **tol)
    for (c_fast, h_fast), (c_eager, h_eager) in zip(decoder.state(), state, strict=True):
        torch.testing.assert_close(h_fast, h_eager, **tol)
        assert (c_fast is None) == (c_eager is None)
        if c_fast is not None:
            torch.testing.assert_close(c_fast, c_eager, **tol)


SAMPLING = [
    dict(temperature=0),
    dict(temperature=0.8, top_k=5),
    dict(temperature=1.3, top_p=0.9),
    dict(top_k=4, top_p=0.7),
]


@pytest.mark.parametrize(
    "kernels,settings", [*[("c", s) for s in SAMPLING], ("triton", SAMPLING[0]), ("triton", SAMPLING[2])]
)
@pytest.mark.parametrize("block", ["mingru", "minlstm"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_generate_with_the_fast_step_draws_the_same_tokens(block, dtype, settings, kernels, monkeypatch):
    monkeypatch.setattr(decode, "_kernels", lambda device, _: kernels)  # "triton": CUDA's path, on CPU tensors
    m = model(block, dtype, seed=1)
    built = []
    monkeypatch.setattr(Decoder, "_run", lambda self, tokens: built.append(self.kernels) or _run(self, tokens))
    prompt = torch.randint(0, VOCAB, (3, 4))
    n = 40 if kernels == "c" else 16
    runs = [
        m.generate(prompt, n, generator=torch.Generator().manual_seed(7), fast_step=fast, **settings)
        for fast in (True, False)
    ]
    assert torch.equal(runs[0], runs[1])
    assert runs[0].shape == (3, 4 + n) and torch.equal(runs[0][:, :4], prompt)
    assert len(built) == n - 1 and {type(k).__name__ for k in built} == {
        "_CKernels" if kernels == "c" else "_TorchKernels"
    }


_run = Decoder._run


def test_models_the_fast_step_does_not_cover_say_why_and_generate_as_before():
    m = model("mingru", torch.float32)
    m.train()  # dropout 0: the same function in training mode
    assert problem(m) is None
    gru = SequenceModel(dim=8, depth=1, dim_out=5, vocab_size=5, block=dict(rnn="minrnn.baselines.torch_rnn.GRULayer"))
    assert "MinGRU and MinLSTM" in problem(gru)
    dropout = SequenceModel(dim=8, depth=1, dim_out=5, vocab_size=5, block=dict(dropout=0.5, mlp=True))
    assert "dropout" in problem(dropout) and problem(dropout.eval()) is None
    assert "float32 or float64" in problem(model("mingru", torch.bfloat16))
    hooked = model("mingru")
    hooked.blocks[0].down.register_forward_hook(lambda mod, i, o: o * 2)
    assert "hook" in problem(hooked)
    prompt = torch.randint(0, VOCAB, (2, 3))
    greedy = hooked.generate(prompt, 6, temperature=0)  # the eager step, hook and all
    assert torch.equal(greedy, hooked.generate(prompt, 6, temperature=0, fast_step=False))
    with pytest.raises(ValueError, match="hook"):
        Decoder(hooked, 2)
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        Decoder(model("mingru"), 0)
    with pytest.raises(ValueError, match="kernels must be one of auto, c, triton"):
        Decoder(model("mingru"), 1, "cuda")


def test_the_triton_kernels_off_cuda_need_the_interpreter(monkeypatch):
    m = model("mingru")
    assert problem(m, "c") is None and problem(m, "triton") is None  # conftest sets TRITON_INTERPRET=1
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert "runs on CUDA, or on CPU under TRITON_INTERPRET=1" in problem(m, "triton")
    assert problem(m) is None  # auto: the C kernels on CPU
    with pytest.raises(ValueError, match="TRITON_INTERPRET"):
        Decoder(m, 1, "triton")


CHANGES = {
    "load_state_dict": lambda m: m.load_state_dict(model("mingru", seed=5).state_dict()),
    "an optimizer step": lambda m: torch.optim.SGD(m.parameters(), lr=0.1).step() or None,
    "one weight updated in place": lambda m: m.blocks[0].rnn.linear_z.weight.add_(1.0),  # not .data: unversioned
    "a weight replaced": lambda m: setattr(m.head, "weight", torch.nn.Parameter(m.head.weight + 1)),
    "dtype": lambda m: m.float(),
    "train mode": lambda m: m.train(),
}


@pytest.mark.parametrize("change", CHANGES)
@torch.no_grad()
def test_a_decoder_refuses_a_model_changed_after_it_was_built(change):
    """It reads the weights once: stepping on after load_state_dict once mixed old gate projections with
    new products (logits 0.38 away from the eager step's)."""
    m = model("mingru")
    decoder = Decoder(m, 2)
    m.zero_grad()
    for p in m.parameters():
        p.grad = torch.ones_like(p)
    CHANGES[change](m)
    with pytest.raises(ValueError, match="the model changed since this decoder was built"):
        decoder.load(None)
    fresh = Decoder(m.eval(), 2)  # a new decoder reads the model as it is now
    fresh.load(None)
    tokens = torch.tensor([3, 4])
    torch.testing.assert_close(fresh.step(tokens), m.step(tokens)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernels", ["c", "triton"])
@pytest.mark.parametrize("block", ["mingru", "mingru-learned-h0-layernorm"])
def test_a_decoder_outside_no_grad_steps_as_the_eager_step(block, kernels):
    """Grad mode on (no torch.no_grad around it): a prefill's state and a learned h0 require grad; loading
    either once made the buffers carry autograd, and the out= products then refused to run."""
    m = model(block)
    x = torch.randint(0, VOCAB, (2, 6))
    for state in (None, m(x[:, :3], return_state=True)[1]):
        decoder = Decoder(m, 2, kernels)
        decoder.load(state)
        for t in range(3, 6):
            with torch.no_grad():
                eager, state = m.step(x[:, t], state)
            fast = decoder.step(x[:, t])
            assert not fast.requires_grad
            torch.testing.assert_close(fast, eager, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernels", ["c", "triton"])
@torch.no_grad()
def test_token_ids_past_the_vocabulary_are_one_argument_error_and_leave_the_state(kernels):
    """Decoder.step's ids out of [0, vocab) were an IndexError from the embedding's index_select; a model with
    more outputs than its vocabulary sampled such ids in generate (the fast step: IndexError, the eager step:
    an ArgumentError some tokens in): generate refuses it before it starts."""
    m = model("mingru")
    decoder = Decoder(m, 2, kernels)
    decoder.load(None)
    before = decoder.state()
    for bad in ([VOCAB, 0], [0, -1]):
        with pytest.raises(ArgumentError, match=rf"token ids must lie in \[0, {VOCAB}\), got \{bad}"):
            decoder.step(torch.tensor(bad))
    for (_, h), (_, h_before) in zip(decoder.state(), before, strict=True):
        assert torch.equal(h, h_before)
    torch.manual_seed(0)
    wide = SequenceModel(dim=8, depth=1, dim_out=VOCAB + 20, vocab_size=VOCAB, block=BLOCKS["mingru"]).eval()
    for fast in (True, False):
        with pytest.raises(ArgumentError, match="dim_out must be at most vocab_size"):
            wide.generate(torch.tensor([[1]]), 30, generator=torch.Generator().manual_seed(0), fast_step=fast)


@torch.no_grad()
def test_load_refuses_a_state_of_another_shape_and_generate_takes_an_empty_batch():
    m = model("mingru")
    decoder = Decoder(m, 2)
    one_row = m(torch.randint(0, VOCAB, (1, 3)), return_state=True)[1]  # copy_ would broadcast it to 2 rows
    bad = {
        "one row": one_row,
        "a block short": one_row[:1],
        "h a list": [(c.expand(2, -1, -1), [0.0]) for c, _ in one_row],
        "h of another width": [(c.expand(2, -1, -1), h.new_zeros(2, 5)) for c, h in one_row],
    }
    for state in bad.values():
        with pytest.raises(ValueError, match="Decoder.load"):
            decoder.load(state)
    empty = torch.zeros(0, 3, dtype=torch.long)
    assert torch.equal(m.generate(empty, 4), m.generate(empty, 4, fast_step=False))
    assert m.generate(empty, 4).shape == (0, 7)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("layer", [MinGRU(6, 5), MinLSTM(6, 5), MinLSTM(6, 5, normalize_gates=True, log_space=False)])
@torch.no_grad()
def test_the_gate_step_operator_is_the_layers_step(layer, dtype):
    layer = layer.to(dtype)
    x, h = torch.randn(4, 6, dtype=dtype), torch.rand(4, 5, dtype=dtype)
    p = torch.cat([lin(x) for lin in layer._projections], dim=-1)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else {}
    torch.testing.assert_close(gate_step(p, h, layer._mode, layer.log_space), layer.step(x, h), **tol)
    torch.library.opcheck(torch.ops.minrnn.gate_step, (p, h, layer._mode, layer.log_space))
    with pytest.raises(ValueError, match="h_prev must have shape"):
        gate_step(p, h[:, :4], layer._mode, layer.log_space)
