import pytest
import torch
import torch.nn.functional as F
from checks import assert_block_steps_and_chunks, assert_causal
from torch import nn

from minrnn import Block, CausalConv1d
from minrnn.blocks import RMSNorm

CONFIGS = [
    dict(rnn="mingru"),  # selective copy: minRNN only
    dict(rnn="minlstm", conv=True),  # Chomsky: Conv4 + minRNN
    dict(rnn="mingru", conv=True, mlp=True, expansion=2),  # LRA / language modelling
    dict(rnn="minlstm", mlp=True, expansion=1.5, norm="layer"),  # RL: minRNN + MLP
]
IDS = ["rnn", "conv+rnn", "conv+rnn+mlp", "rnn+mlp"]


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_block_is_causal(cfg):
    block = Block(8, **cfg).double().eval()
    x = torch.randn(2, 20, 8, dtype=torch.float64)
    for t in [0, 7, 18]:
        assert_causal(lambda x: block(x)[0], x, t)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_block_step_equals_parallel_and_state_continues(cfg):
    block = Block(8, **cfg).double().eval()
    assert_block_steps_and_chunks(block, torch.randn(3, 15, 8, dtype=torch.float64), cut=6)


def test_conv_is_causal_and_a_centred_conv_would_fail():
    conv = CausalConv1d(4, 4).double()
    x = torch.randn(2, 12, 4, dtype=torch.float64)
    assert_causal(lambda x: conv(x)[0], x, 5)
    # The bug a peer shipped (padding k//2 on both sides) leaks the future; the check catches it.
    leaky = lambda x: F.conv1d(x.transpose(1, 2), conv.depthwise.weight, padding=2, groups=4)[..., :12].transpose(1, 2)  # noqa: E731
    with pytest.raises(AssertionError, match="outputs up to t changed"):
        assert_causal(leaky, x, 5)


def test_conv_step_keeps_only_the_last_kernel_minus_one_inputs():
    conv = CausalConv1d(4, 4).double()
    x = torch.randn(2, 9, 4, dtype=torch.float64)
    full, last = conv(x)
    state = None
    for t, x_t in enumerate(x.unbind(1)):
        y, state = conv.step(x_t, state)
        assert state.shape == (2, 3, 4)
        torch.testing.assert_close(y, full[:, t], rtol=0, atol=1e-12)
    torch.testing.assert_close(state, last)


def test_bad_block_settings_raise_value_error():
    with pytest.raises(ValueError, match="unknown rnn 'gru'; choose one of mingru, minlstm"):
        Block(8, rnn="gru")
    with pytest.raises(ValueError, match="unknown rnn 'minrnn.baselines.nothing.GRU'"):
        Block(8, rnn="minrnn.baselines.nothing.GRU")
    with pytest.raises(ValueError, match="unknown norm"):
        Block(8, norm="batch")
    with pytest.raises(ValueError, match="no hidden units"):
        Block(8, expansion=0.01)
    with pytest.raises(ValueError, match="kernel_size"):
        Block(8, conv=True, conv_kernel=0)


def test_rms_norm_equals_torch_rmsnorm_and_loads_its_state_dict():
    torch.manual_seed(0)
    ref = nn.RMSNorm(16)
    ref.weight.data.uniform_(0.5, 1.5)
    norm = RMSNorm(16)
    norm.load_state_dict(ref.state_dict())
    norm.FUSED_FROM = 0  # the fused kernel at any size
    x = torch.randn(3, 9, 16, requires_grad=True)
    g = torch.randn(3, 9, 16)
    got, want = norm(x), ref(x)
    torch.testing.assert_close(got, want)
    grads = torch.autograd.grad(got, [x, norm.weight], g), torch.autograd.grad(want, [x, ref.weight], g)
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    # bf16 (no fused kernel) falls back to torch's own and gives its answer
    xb = x.detach().bfloat16()
    torch.testing.assert_close(norm.bfloat16()(xb), ref.bfloat16()(xb))
