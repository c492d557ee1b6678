import pytest
import torch
from checks import assert_causal

from minrnn.baselines.transformer import Transformer


def test_kv_cache_step_equals_parallel_and_model_is_causal():
    model = Transformer(dim=16, depth=2, dim_out=7, vocab_size=7, heads=2).double().eval()
    x = torch.randint(0, 7, (2, 10))
    full = model(x)
    state, outs = None, []
    for x_t in x.unbind(1):
        o, state = model.step(x_t, state)
        outs.append(o)
    torch.testing.assert_close(torch.stack(outs, 1), full, rtol=0, atol=1e-12)
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
