import pytest
import torch
from checks import assert_block_steps_and_chunks, assert_causal

from minrnn import Block


@pytest.mark.parametrize("rnn", ["minrnn.baselines.torch_rnn.GRULayer", "minrnn.baselines.torch_rnn.LSTMLayer"])
@pytest.mark.parametrize("impl", ["fused", "loop"])
def test_torch_rnns_in_the_block_step_chunk_and_stay_causal(rnn, impl):
    block = Block(8, rnn=rnn, mlp=True, conv=True, rnn_kwargs={"impl": impl}).double().eval()
    x = torch.randn(2, 12, 8, dtype=torch.float64)
    assert_block_steps_and_chunks(block, x, cut=5)
    assert_causal(lambda x: block(x)[0], x, 6)


def test_unknown_impl_is_named():
    with pytest.raises(ValueError, match="unknown impl 'cudnn'"):
        Block(8, rnn="minrnn.baselines.torch_rnn.GRULayer", rnn_kwargs={"impl": "cudnn"})
