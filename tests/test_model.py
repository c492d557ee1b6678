import pytest
import torch
from checks import assert_causal
from hypothesis import given, settings
from hypothesis import strategies as st

from minrnn import SequenceModel
from minrnn.model import input_layer

BLOCK = dict(rnn="minlstm", expansion=2, conv=True, mlp=True)


def token_model(**block):
    return SequenceModel(dim=16, depth=2, dim_out=11, vocab_size=11, block=block or BLOCK).double().eval()


@pytest.mark.parametrize("block", [dict(rnn="mingru"), BLOCK], ids=["rnn", "conv+rnn+mlp"])
def test_model_is_causal(block):
    model = token_model(**block)
    x = torch.randint(0, 11, (2, 25))
    for t in [0, 12, 23]:
        assert_causal(model, x, t)


def test_vector_input_model_is_causal_and_steps():
    model = SequenceModel(dim=12, depth=3, dim_out=4, dim_in=6, block=dict(rnn="mingru", mlp=True)).double()
    x = torch.randn(2, 10, 6, dtype=torch.float64)
    assert_causal(model, x, 4)
    state, outs = None, []
    for x_t in x.unbind(1):
        o, state = model.step(x_t, state)
        outs.append(o)
    torch.testing.assert_close(torch.stack(outs, 1), model(x), rtol=0, atol=1e-12)


def test_step_mode_equals_parallel_and_state_is_constant_size():
    model = token_model()
    x = torch.randint(0, 11, (3, 30))
    full = model(x)
    state, outs, sizes = None, [], set()
    for x_t in x.unbind(1):
        o, state = model.step(x_t, state)
        outs.append(o)
        sizes.add(sum(t.numel() for s in state for t in s if t is not None))
    torch.testing.assert_close(torch.stack(outs, 1), full, rtol=0, atol=1e-12)
    assert len(sizes) == 1, "the recurrent state must not grow with the position"


def test_chunked_forward_equals_full():
    model = token_model()
    x = torch.randint(0, 11, (2, 40))
    a, s = model(x[:, :13], return_state=True)
    b, s = model(x[:, 13:31], s, return_state=True)
    c = model(x[:, 31:], s)
    torch.testing.assert_close(torch.cat([a, b, c], 1), model(x), rtol=0, atol=1e-12)


def test_greedy_generation_matches_rerunning_the_full_model():
    model = token_model()
    prompt = torch.randint(0, 11, (2, 5))
    out = model.generate(prompt, 8, temperature=0)
    seq = prompt
    for _ in range(8):
        seq = torch.cat([seq, model(seq)[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(out, seq)


def test_sampling_follows_top_k_and_temperature():
    model = token_model()
    prompt = torch.randint(0, 11, (1, 4))
    gen = torch.Generator().manual_seed(0)
    logits = model(prompt)[0, -1]
    allowed = set(torch.topk(logits, 2).indices.tolist())
    draws = {int(model.generate(prompt, 1, temperature=1.5, top_k=2, generator=gen)[0, -1]) for _ in range(50)}
    assert draws <= allowed and len(draws) == 2


def test_tiny_model_learns_a_tiny_task():
    """Output the token seen 3 steps earlier (chance 1/8): needs memory, no conv to shortcut it."""
    torch.manual_seed(0)
    model = SequenceModel(dim=64, depth=2, dim_out=8, vocab_size=8, block=dict(rnn="mingru", expansion=2))
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(800):
        x = torch.randint(0, 8, (32, 24))
        loss = torch.nn.functional.cross_entropy(model(x)[:, 3:].reshape(-1, 8), x[:, :-3].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = torch.randint(0, 8, (64, 24))
    acc = (model(x)[:, 3:].argmax(-1) == x[:, :-3]).float().mean().item()
    assert acc > 0.9, f"accuracy {acc:.3f}"


def test_bad_inputs_raise_value_error():
    model = token_model()
    with pytest.raises(ValueError, match=r"integer token ids of shape \(B, T\)"):
        model(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 11\), got \[0, 11\]"):
        model(torch.tensor([[0, 11]]))
    with pytest.raises(ValueError, match=r"integer token ids of shape \(B,\)"):
        model.step(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="exactly one of vocab_size"):
        SequenceModel(dim=8, depth=1, dim_out=2)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(torch.zeros(1, 2, dtype=torch.long), 3, temperature=-1)


@pytest.mark.parametrize(
    "prompt,tokens,temperature,message",
    [
        (torch.zeros(2, 0, dtype=torch.long), 5, 1.0, r"at least one token per row"),
        (torch.zeros(2, 3, dtype=torch.long), 0, 1.0, r"max_new_tokens must be an integer >= 1, got 0"),
        (torch.zeros(2, 3, dtype=torch.long), -1, 1.0, r"max_new_tokens must be an integer >= 1, got -1"),
        (torch.zeros(2, 3, dtype=torch.long), 5, float("nan"), r"finite temperature"),
        (torch.zeros(2, 3, dtype=torch.long), 5, float("inf"), r"finite temperature"),
    ],
)
def test_generation_edge_cases_get_one_clear_message(prompt, tokens, temperature, message):
    model = SequenceModel(dim=8, depth=1, dim_out=5, vocab_size=5, block={"conv": True})
    with pytest.raises(ValueError, match=message):
        model.generate(prompt, tokens, temperature)
    with pytest.raises(ValueError, match=r"shape \(B, T\) with T >= 1"):
        model(torch.zeros(2, 0, dtype=torch.long))


NOT_NUMBERS = st.one_of(st.text(max_size=3), st.booleans(), st.just(torch.tensor(1.0)), st.lists(st.integers()))


@settings(max_examples=30, deadline=None)
@given(place=st.sampled_from(["temperature", "top_k", "top_p"]), value=NOT_NUMBERS | st.floats(0.1, 5.0))
def test_generation_settings_of_another_type_get_one_clear_message(place, value):
    """top_k=2.5 reached torch.topk (a TypeError), temperature="1" a comparison: each is one ValueError."""
    if place != "top_k" and isinstance(value, float):
        return  # a float is a valid temperature or top_p (or out of range, tested above)
    model = SequenceModel(dim=8, depth=1, dim_out=5, vocab_size=5)
    with pytest.raises(ValueError, match=place):
        model.generate(torch.zeros(1, 2, dtype=torch.long), 2, **{"temperature": 1.0, place: value})


@pytest.mark.parametrize("inputs", [{}, {"vocab_size": 5, "dim_in": 3}])
def test_every_model_takes_exactly_one_kind_of_input(inputs):
    """minrnn.model.input_layer, shared by SequenceModel and the Mamba and Transformer baselines."""
    from minrnn.baselines.mamba import Mamba
    from minrnn.baselines.transformer import Transformer

    for cls in (SequenceModel, Mamba, Transformer):
        with pytest.raises(ValueError, match="give exactly one of vocab_size"):
            cls(dim=8, depth=1, dim_out=2, **inputs)
    assert isinstance(input_layer(8, None, 3), torch.nn.Linear) and input_layer(8, 5, None).num_embeddings == 5
