import pytest
import torch
from causality import assert_causal

from minrnn import Block


@pytest.mark.parametrize("rnn", ["baselines.torch_rnn.GRULayer", "baselines.torch_rnn.LSTMLayer"])
@pytest.mark.parametrize("impl", ["fused", "loop"])
def test_torch_rnns_in_the_block_step_chunk_and_stay_causal(rnn, impl):
    block = Block(8, rnn=rnn, mlp=True, conv=True, rnn_kwargs={"impl": impl}).double().eval()
    x = torch.randn(2, 12, 8, dtype=torch.float64)
    full, _ = block(x)
    state, steps = None, []
    for x_t in x.unbind(1):
        y, state = block.step(x_t, state)
        steps.append(y)
    torch.testing.assert_close(torch.stack(steps, 1), full, rtol=0, atol=1e-12)
    first, s = block(x[:, :5])
    torch.testing.assert_close(torch.cat([first, block(x[:, 5:], s)[0]], 1), full, rtol=0, atol=1e-12)
    assert_causal(lambda x: block(x)[0], x, 6)


def test_unknown_impl_is_named():
    with pytest.raises(ValueError, match="unknown impl 'cudnn'"):
        Block(8, rnn="baselines.torch_rnn.GRULayer", rnn_kwargs={"impl": "cudnn"})
