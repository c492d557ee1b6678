import pytest
import torch

from minrnn.baselines.mamba import Mamba
from minrnn.baselines.transformer import Transformer
from minrnn.model import SequenceModel
from minrnn.tasks.decision_model import DecisionModel, StepPolicy, WindowPolicy

SD, AD, D = 5, 3, 16


def backbone(kind):
    if kind == "transformer":
        return Transformer(dim=D, depth=2, dim_out=AD, dim_in=D, heads=2)
    if kind == "mamba":
        return Mamba(dim=D, depth=2, dim_out=AD, dim_in=D, implementation="minrnn")
    rnn = {"mingru": "mingru", "minlstm": "minlstm", "gru": "minrnn.baselines.torch_rnn.GRULayer"}[kind]
    return SequenceModel(dim=D, depth=2, dim_out=AD, dim_in=D, block={"rnn": rnn, "expansion": 2, "mlp": True})


def model_and_episode(kind, T=9, seed=0):
    torch.manual_seed(seed)
    m = DecisionModel(backbone(kind), dim=D, state_dim=SD, act_dim=AD, max_ep_len=50).double().eval()
    x = torch.cat([torch.randn(1, T, 1 + SD + AD), torch.arange(T).view(1, T, 1)], -1).double()
    return m, x


def roll(policy, x):
    """Feed the episode's returns, states and (recorded) actions; collect the predicted actions."""
    out = []
    for t in range(x.shape[1]):
        rtg, s, a = x[:, t, 0], x[:, t, 1 : 1 + SD], x[:, t, 1 + SD : 1 + SD + AD]
        out.append(policy.act(rtg, s, x[:, t, -1].long()))
        policy.observe(a)
    return torch.stack(out, 1)


@pytest.mark.parametrize("kind", ["mingru", "minlstm", "gru", "mamba"])
def test_step_rollout_equals_the_parallel_pass(kind):
    m, x = model_and_episode(kind)
    with torch.no_grad():
        torch.testing.assert_close(roll(StepPolicy(m), x), m(x), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind", ["transformer", "mingru"])
def test_window_rollout_sees_the_last_k_steps(kind):
    m, x = model_and_episode(kind, T=7)
    with torch.no_grad():
        full = roll(WindowPolicy(m, context=10), x)
        torch.testing.assert_close(full, m(x), rtol=1e-9, atol=1e-9)
        windowed = roll(WindowPolicy(m, context=3), x)
        for t in range(7):
            expect = m(x[:, max(0, t - 2) : t + 1])[:, -1]
            torch.testing.assert_close(windowed[:, t], expect, rtol=1e-9, atol=1e-9)


def test_an_action_is_predicted_before_it_is_seen():
    m, x = model_and_episode("mingru")
    y = x.clone()
    y[:, 4, 1 + SD : 1 + SD + AD] += 5.0  # change a_4 only
    with torch.no_grad():
        a, b = m(x), m(y)
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert (a[:, 5:] - b[:, 5:]).abs().max() > 1e-4
    assert a.abs().max() < 1  # tanh


def test_timesteps_past_the_episode_limit_are_clamped():
    m, x = model_and_episode("mingru")
    y = x.clone()
    y[..., -1] = 49 + torch.arange(x.shape[1])  # 49 .. 57 with max_ep_len 50 -> all 49
    z = x.clone()
    z[..., -1] = 49
    with torch.no_grad():
        torch.testing.assert_close(m(y), m(z))
