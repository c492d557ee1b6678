import pytest
import torch
from torch import nn

from minrnn.baselines.loop_rnn import LoopGRU, LoopLSTM


@pytest.mark.parametrize(("loop", "fused"), [(LoopGRU, nn.GRU), (LoopLSTM, nn.LSTM)])
def test_loop_equals_torch_nn_and_gradients_match(loop, fused):
    m = loop(5, 7).double()
    ref = fused(5, 7, batch_first=True).double()
    ref.load_state_dict(m.state_dict())
    x = torch.randn(3, 20, 5, dtype=torch.float64)
    out, state = m(x)
    ref_out, ref_state = ref(x)
    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-12)
    torch.testing.assert_close(state, ref_state, rtol=0, atol=1e-12)
    out2, _ = m(x[:, 10:], state)  # continuing from a state, as torch.nn does
    torch.testing.assert_close(out2, ref(x[:, 10:], ref_state)[0], rtol=0, atol=1e-12)
    m(x)[0].sum().backward()
    ref(x)[0].sum().backward()
    torch.testing.assert_close(m.weight_hh_l0.grad, ref.weight_hh_l0.grad, rtol=0, atol=1e-10)
