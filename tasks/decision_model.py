"""The Decision Transformer (Chen et al., 2021) with its attention swapped for any sequence model
(the paper's Section 4.2, Appendix C.2: "Decision minGRU / minLSTM"; Decision Mamba, Ota 2024).

Each timestep t of a window gives three tokens, return-to-go R_t, state s_t, action a_t, each
linearly embedded plus a learned timestep embedding, then LayerNorm (DT's ``embed_ln``). The
backbone (minGRU/minLSTM blocks, GRU, LSTM, Mamba or a Transformer, built with ``dim_in = dim`` and
``dim_out = act_dim``) runs over the 3K tokens; the action a_t is predicted, through tanh, from the
output at s_t, so it sees R_<=t, s_<=t and a_<t.

Rolling out a policy: ``StepPolicy`` feeds the tokens one at a time through the backbone's ``step``
(recurrent models: constant memory over a whole episode); ``WindowPolicy`` reruns the backbone in
parallel mode over the last K timesteps at every step (DT's protocol; the Transformer's context).
"""

from __future__ import annotations

import torch
from torch import nn


def split_inputs(x: torch.Tensor, state_dim: int, act_dim: int):
    """x (..., 1 + state_dim + act_dim + 1) -> return-to-go, state, action, timestep."""
    rtg, s, a, t = torch.split(x, [1, state_dim, act_dim, 1], dim=-1)
    return rtg, s, a, t[..., 0].long()


class DecisionModel(nn.Module):
    def __init__(self, backbone: nn.Module, *, dim: int, state_dim: int, act_dim: int, max_ep_len: int = 1000):
        super().__init__()
        self.backbone, self.state_dim, self.act_dim, self.max_ep_len = backbone, state_dim, act_dim, max_ep_len
        self.embed_return = nn.Linear(1, dim)
        self.embed_state = nn.Linear(state_dim, dim)
        self.embed_action = nn.Linear(act_dim, dim)
        self.embed_timestep = nn.Embedding(max_ep_len, dim)
        self.embed_ln = nn.LayerNorm(dim)
        self.implementation = getattr(backbone, "implementation", type(backbone).__name__)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, K, 1 + state_dim + act_dim + 1) -> (B, 3K, dim), interleaved R_1, s_1, a_1, R_2, ..."""
        rtg, s, a, t = split_inputs(x, self.state_dim, self.act_dim)
        time = self.embed_timestep(t.clamp(0, self.max_ep_len - 1))
        stacked = torch.stack(
            [self.embed_return(rtg) + time, self.embed_state(s) + time, self.embed_action(a) + time], dim=2
        )
        return self.embed_ln(stacked.flatten(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Parallel mode: predicted actions (B, K, act_dim), each from its state token's output."""
        out = self.backbone(self.tokens(x))
        return torch.tanh(out[:, 1::3])


class StepPolicy:
    """Recurrent rollout: R_t and s_t in, an action out, then a_t in; the backbone's state is all that
    is kept between steps (constant memory over the episode)."""

    def __init__(self, model: DecisionModel):
        self.model, self.state = model, None

    @torch.no_grad()
    def act(self, rtg: torch.Tensor, obs: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """rtg (B,), obs (B, state_dim) normalised, t (B,) -> actions (B, act_dim)."""
        m = self.model
        x = torch.cat([rtg[:, None], obs, obs.new_zeros(len(obs), m.act_dim), t[:, None].to(obs.dtype)], -1)
        tok = m.tokens(x[:, None])  # (B, 3, dim): R_t, s_t, and a placeholder a_t replaced below
        _, self.state = m.backbone.step(tok[:, 0], self.state)
        out, self.state = m.backbone.step(tok[:, 1], self.state)
        self._t = t
        return torch.tanh(out)

    @torch.no_grad()
    def observe(self, action: torch.Tensor) -> None:
        """Feed the action taken at this step (B, act_dim)."""
        m = self.model
        time = m.embed_timestep(self._t.clamp(0, m.max_ep_len - 1))
        _, self.state = m.backbone.step(m.embed_ln(m.embed_action(action) + time), self.state)


class WindowPolicy:
    """DT's rollout: keep the last K timesteps and run the model over them in parallel mode."""

    def __init__(self, model: DecisionModel, context: int):
        self.model, self.context, self.history = model, context, []

    @torch.no_grad()
    def act(self, rtg: torch.Tensor, obs: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        m = self.model
        self.history.append(
            torch.cat([rtg[:, None], obs, obs.new_zeros(len(obs), m.act_dim), t[:, None].to(obs.dtype)], -1)
        )
        self.history = self.history[-self.context :]
        return m(torch.stack(self.history, 1))[:, -1]

    def observe(self, action: torch.Tensor) -> None:
        a = slice(1 + self.model.state_dim, 1 + self.model.state_dim + self.model.act_dim)
        self.history[-1][:, a] = action
