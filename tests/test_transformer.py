import pytest
import torch
from checks import assert_causal

from minrnn.baselines.transformer import Transformer


def step_by_step(model, x):
    """The logits of x token by token through the KV cache, and the cache after it."""
    state, outs = None, []
    for x_t in x.unbind(1):
        o, state = model.step(x_t, state)
        outs.append(o)
    return torch.stack(outs, 1), state


def test_kv_cache_step_equals_parallel_and_model_is_causal():
    model = Transformer(dim=16, depth=2, dim_out=7, vocab_size=7, heads=2).double().eval()
    x = torch.randint(0, 7, (2, 10))
    full = model(x)
    steps, state = step_by_step(model, x)
    torch.testing.assert_close(steps, full, rtol=0, atol=1e-12)
    k, v, n = state[0]
    assert n == 10 and 10 <= k.shape[2] <= 20  # the cache grows with the context, doubling its buffers
    a, s = model(x[:, :4], return_state=True)
    torch.testing.assert_close(torch.cat([a, model(x[:, 4:], s)], 1), full, rtol=0, atol=1e-12)
    assert_causal(model, x, 3)


def test_heads_that_do_not_divide_the_width_are_named():
    with pytest.raises(ValueError, match="dim=30 must be divisible by heads=4"):
        Transformer(dim=30, depth=1, dim_out=2, vocab_size=2, heads=4)


def test_a_long_generation_copies_the_cache_only_when_it_doubles():
    model = Transformer(dim=8, depth=1, dim_out=5, vocab_size=5, heads=2).eval()
    _, state = model(torch.randint(0, 5, (1, 3)), return_state=True)
    buffers = set()
    with torch.no_grad():
        for _ in range(60):
            _, state = model.step(torch.zeros(1, dtype=torch.long), state)
            buffers.add(state[0][0].data_ptr())
    assert state[0][2] == 63 and len(buffers) == 5  # capacities 6, 12, 24, 48, 96


def test_nanogpt_positions_and_tied_head_step_equals_parallel_and_a_position_past_the_table_is_named():
    """scale=paper's Figure 2 Transformer (docs/deviations.md): learned absolute positions, head tied to
    the embedding, as nanoGPT."""
    torch.manual_seed(0)
    model = Transformer(
        dim=16, depth=2, dim_out=7, vocab_size=7, heads=2, positions="learned", max_len=12, tie_head=True
    )
    model = model.double().eval()
    assert model.head.weight is model.embed.weight
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for n, p in model.named_parameters() if n != "head.weight"
    )
    x = torch.randint(0, 7, (2, 12))
    full = model(x)
    steps, state = step_by_step(model, x)
    torch.testing.assert_close(steps, full, rtol=0, atol=1e-12)
    shifted = torch.cat([x[:, 1:], x[:, :1]], 1)  # positions matter: no RoPE, the table is the only order
    assert not torch.allclose(model(shifted)[:, 1:], full[:, :-1])
    assert_causal(model, x, 3)
    with pytest.raises(ValueError, match="13 positions, more than its learned max_len 12"):
        model.step(x[:, 0], state)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(positions="alibi"), "positions must be 'rope' or 'learned'"),
        (dict(positions="learned"), "learned positions need max_len"),
        (dict(tie_head=True, dim_out=3), "tie_head needs token inputs with vocab_size == dim_out"),
    ],
)
def test_bad_transformer_options_are_one_message(kwargs, match):
    args = dict(dim=8, depth=1, dim_out=5, vocab_size=5, heads=2) | kwargs
    with pytest.raises(ValueError, match=match):
        Transformer(**args)
