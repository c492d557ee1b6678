"""Offline RL on D4RL with a decision sequence model (the paper's Section 4.2, Table 3; Appendix C).

Training follows the Decision Transformer (kzl/decision-transformer ``gym/experiment.py``) as Decision
Mamba (Ota, 2024) uses it: windows of ``context`` (K = 20) timesteps from episodes sampled in
proportion to their length, states normalised by the dataset's mean and std, returns-to-go divided
by ``return_scale`` (1000), loss = mean squared error of the predicted actions. Windows that run past
an episode's end are padded on the right (so a causal model's outputs are unaffected) and masked.

Evaluation rolls the policy out in Gymnasium's MuJoCo environments, ``{Env}-v4`` by default: D4RL's
v2 data came from gym's v3 environments (mujoco-py), which no longer install; v4 is the same model on
the maintained ``mujoco`` bindings ("the same training curves as v3", gym 0.24's notes), while v5
changed the models (Walker2d's foot friction, healthy rewards). Each episode starts from the target
return (DT's: hopper 3600 / 1800, halfcheetah 12000 / 6000, walker2d 5000 / 2500), minus the rewards
as they come; the score is D4RL's normalised return. Recurrent models roll out in step mode with
constant memory (``rollout: step``), the Transformer over its last K timesteps (``rollout: window``,
DT's protocol, also available to every model); ``auto`` picks so, and the summary records which.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import numpy as np
import torch

from minrnn.tasks import train_generator
from minrnn.tasks.d4rl_data import ENVS, Episode, locate, normalized_score, read_d4rl, read_minari
from minrnn.tasks.decision_model import DecisionModel, StepPolicy, WindowPolicy
from minrnn.tasks.download import DataError

GYM_IDS = {"halfcheetah": "HalfCheetah", "hopper": "Hopper", "walker2d": "Walker2d"}


class D4RL:
    metric = "action_mse"
    higher_is_better = False

    def __init__(
        self,
        env: str = "hopper",
        dataset: str = "medium",
        source: str = "d4rl",
        path: str | None = None,
        cache_dir: str = "~/.cache/minrnn/data",
        download: bool = True,
        context: int = 20,
        max_ep_len: int = 1000,
        return_scale: float = 1000.0,
        target_returns: list | None = None,
        eval_episodes: int = 100,
        gym_version: str = "v4",
        rollout: str = "auto",
        embed_dim: int = 128,
        seed: int = 0,
        eval_windows: int = 512,
        eval_batch_size: int = 64,
        eval_batches: int | None = None,
    ):
        if env not in ENVS:
            raise ValueError(f"unknown D4RL environment {env!r}; choose one of {', '.join(ENVS)}")
        if rollout not in ("auto", "step", "window"):
            raise ValueError(f"task.rollout must be auto, step or window, got {rollout!r}")
        if context < 1 or eval_episodes < 0:
            raise ValueError(f"need context >= 1 and eval_episodes >= 0, got {context}, {eval_episodes}")
        if source == "d4rl":
            episodes = read_d4rl(locate(env, dataset, path, cache_dir, download))
        elif source == "minari":
            if not path:
                raise ValueError("task.source=minari needs task.path: the dataset's data/main_data.hdf5")
            episodes = read_minari(locate_minari(path))
        else:
            raise ValueError(f"task.source must be d4rl or minari, got {source!r}")
        episodes = [e for e in episodes if len(e)]
        if not episodes:
            raise ValueError(f"the {env}-{dataset} data holds no transitions")
        self.env, self.dataset, self.episodes = env, dataset, episodes
        self.context, self.max_ep_len, self.return_scale = context, max_ep_len, return_scale
        self.target_returns = list(target_returns or [])
        self.eval_episodes, self.gym_id, self.rollout = eval_episodes, f"{GYM_IDS[env]}-{gym_version}", rollout
        self.seed, self.eval_windows, self.eval_batch_size = seed, eval_windows, eval_batch_size
        self.eval_cap = eval_batches  # None: every evaluation batch (the same key in every task)
        self.state_dim, self.act_dim = episodes[0].observations.shape[1], episodes[0].actions.shape[1]
        states = np.concatenate([e.observations for e in episodes])
        self.state_mean, self.state_std = states.mean(0), states.std(0) + 1e-6  # DT's normalisation
        self.rtg = [np.cumsum(e.rewards[::-1])[::-1].copy() for e in episodes]  # undiscounted returns-to-go
        lengths = np.array([len(e) for e in episodes], dtype=np.float64)
        self.p_episode = torch.tensor(lengths / lengths.sum())
        self.dim_in, self.dim_out, self.embed_dim = embed_dim, self.act_dim, embed_dim

    # --- the model ----------------------------------------------------------------------------------
    def wrap(self, backbone: torch.nn.Module) -> DecisionModel:
        return DecisionModel(
            backbone, dim=self.embed_dim, state_dim=self.state_dim, act_dim=self.act_dim, max_ep_len=self.max_ep_len
        )

    # --- training windows ---------------------------------------------------------------------------
    def window(self, i: int, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Episode i from start: x (K, 1 + state_dim + act_dim + 1), y (K, act_dim + 1) = (action, mask)."""
        e, K = self.episodes[i], self.context
        end = min(start + K, len(e))
        n = end - start
        x = np.zeros((K, 1 + self.state_dim + self.act_dim + 1), dtype=np.float32)
        x[:n, 0] = self.rtg[i][start:end] / self.return_scale
        x[:n, 1 : 1 + self.state_dim] = (e.observations[start:end] - self.state_mean) / self.state_std
        x[:n, 1 + self.state_dim : -1] = e.actions[start:end]
        x[:n, -1] = np.minimum(np.arange(start, end), self.max_ep_len - 1)
        y = np.zeros((K, self.act_dim + 1), dtype=np.float32)
        y[:n, :-1], y[:n, -1] = e.actions[start:end], 1.0
        return torch.from_numpy(x), torch.from_numpy(y)

    def _windows(self, batch_size: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.multinomial(self.p_episode, batch_size, replacement=True, generator=g).tolist()
        pairs = [self.window(i, int(torch.randint(0, len(self.episodes[i]), (1,), generator=g))) for i in idx]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])

    def train_batch(self, batch_size: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._windows(batch_size, train_generator(self.seed, step))

    def eval_batches(self, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Fixed windows of the dataset (DT keeps no held-out data): validation from seed 0, test seed 2."""
        g = torch.Generator().manual_seed({"val": 0, "test": 2}[split])
        n, bs = self.eval_windows, self.eval_batch_size
        return islice((self._windows(min(bs, n - i), g) for i in range(0, n, bs)), self.eval_cap)

    def loss(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """DT's loss: mean squared action error over the real (unpadded) timesteps."""
        mask = y[..., -1:]
        return (((pred.float() - y[..., :-1]) ** 2) * mask).sum() / (mask.sum() * self.act_dim)

    def metrics(self, pred: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        mask = y[..., -1:]
        per_window = (((pred.float() - y[..., :-1]) ** 2) * mask).sum((1, 2)) / (mask.sum((1, 2)) * self.act_dim)
        return {"action_mse": per_window.sum().item()}

    # --- evaluation in the environment --------------------------------------------------------------
    def policy(self, model: DecisionModel):
        window = self.rollout == "window" or (self.rollout == "auto" and not model.backbone.constant_state)
        return (WindowPolicy(model, self.context), "window") if window else (StepPolicy(model), "step")

    @torch.no_grad()
    def rollout_returns(
        self, model: DecisionModel, target: float, episodes: int, seed: int, device: torch.device | str = "cpu"
    ) -> tuple[np.ndarray, np.ndarray, str]:
        """Returns and lengths of ``episodes`` episodes run side by side (one batched model call per step)."""
        import gymnasium as gym

        model.eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # v4's deprecation notice; mujoco 4's compiler notices
            envs = [gym.make(self.gym_id, max_episode_steps=self.max_ep_len) for _ in range(episodes)]
            obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
        policy, mode = self.policy(model)
        mean = torch.tensor(self.state_mean, device=device)
        std = torch.tensor(self.state_std, device=device)
        rtg = torch.full((episodes,), target / self.return_scale, device=device)
        returns, lengths, done = np.zeros(episodes), np.zeros(episodes, dtype=int), np.zeros(episodes, dtype=bool)
        for t in range(self.max_ep_len):
            s = (torch.as_tensor(obs, dtype=torch.float32, device=device) - mean) / std
            action = policy.act(rtg, s, torch.full((episodes,), t, device=device))
            policy.observe(action)
            a = action.cpu().numpy()
            rewards = np.zeros(episodes)
            for i, env in enumerate(envs):
                if done[i]:
                    continue
                obs[i], rewards[i], term, trunc, _ = env.step(a[i])
                returns[i] += rewards[i]
                lengths[i] += 1
                done[i] = term or trunc
            rtg = rtg - torch.as_tensor(rewards, dtype=torch.float32, device=device) / self.return_scale
            if done.all():
                break
        for env in envs:
            env.close()
        return returns, lengths, mode

    def final_evaluation(self, model: DecisionModel, device: torch.device | str = "cpu") -> dict:
        """Per target return: mean raw return, mean and std of the normalised score over the episodes."""
        out = {"gym_id": self.gym_id, "eval_episodes": self.eval_episodes}
        for target in self.target_returns if self.eval_episodes else []:
            returns, lengths, mode = self.rollout_returns(
                model, float(target), self.eval_episodes, seed=1_000 * (self.seed + 1), device=device
            )
            scores = normalized_score(self.env, returns)
            key = f"target{int(target)}"
            out.update(
                {
                    f"return_{key}": float(returns.mean()),
                    f"score_{key}": float(scores.mean()),
                    f"score_std_{key}": float(scores.std()),
                    f"length_{key}": float(lengths.mean()),
                    "rollout": mode,
                }
            )
        if self.target_returns and self.eval_episodes:
            out["score"] = out[f"score_target{int(self.target_returns[0])}"]  # DT reports its first target
        return out


def locate_minari(path: str) -> Path:
    """A Minari dataset's main_data.hdf5: the file itself, or the dataset folder holding data/."""
    p = Path(path).expanduser()
    p = p / "data" / "main_data.hdf5" if p.is_dir() else p
    if not p.is_file():
        raise DataError(
            f"Minari dataset file not found at {p} (task.path). Fetch it with `minari download "
            "mujoco/<env>/<dataset>-v0` (into ~/.minari/datasets/) and point task.path at its "
            "folder"
        )
    return p


def collect(
    env: str, episodes: int, seed: int = 0, max_steps: int = 1000, gym_version: str = "v4", noise_levels=(0.1, 0.4, 1.0)
) -> list[Episode]:
    """Locally generated data for tests and the CPU demo (NOT D4RL's): a fixed random linear policy
    tanh(W s) plus Gaussian noise at several levels, so the returns vary."""
    import gymnasium as gym

    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = gym.make(f"{GYM_IDS[env]}-{gym_version}", max_episode_steps=max_steps)
        W = rng.normal(0, 0.5, (e.action_space.shape[0], e.observation_space.shape[0]))
        out = []
        for k in range(episodes):
            noise = noise_levels[k % len(noise_levels)]
            obs, _ = e.reset(seed=seed * 10_000 + k)
            states, actions, rewards, terminal = [], [], [], False
            for _ in range(max_steps):
                a = np.clip(np.tanh(W @ obs) + rng.normal(0, noise, W.shape[0]), -1, 1).astype(np.float32)
                states.append(obs.astype(np.float32))
                actions.append(a)
                obs, r, terminal, trunc, _ = e.step(a)
                rewards.append(r)
                if terminal or trunc:
                    break
            rewards = np.asarray(rewards, dtype=np.float32)
            out.append(Episode(np.stack(states), np.stack(actions), rewards, bool(terminal)))
        e.close()
    return out
