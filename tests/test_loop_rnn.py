import pytest
import torch
from torch import nn

from baselines.loop_rnn import LoopGRU, LoopLSTM


@pytest.mark.parametrize(("loop", "fused"), [(LoopGRU, nn.GRU), (LoopLSTM, nn.LSTM)])
def test_loop_equals_torch_nn_and_gradients_match(loop, fused):
    m = loop(5, 7).double()
    ref = fused(5, 7, batch_first=True).double()
    ref.load_state_dict(m.state_dict())
    x = torch.randn(3, 20, 5, dtype=torch.float64)
    torch.testing.assert_close(m(x), ref(x)[0], rtol=0, atol=1e-12)
    m(x).sum().backward()
    ref(x)[0].sum().backward()
    torch.testing.assert_close(m.weight_hh_l0.grad, ref.weight_hh_l0.grad, rtol=0, atol=1e-10)
