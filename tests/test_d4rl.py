import numpy as np
import pytest
import torch
from harness import compose_cfg

from minrnn.harness.train import run
from minrnn.tasks.d4rl import D4RL, collect
from minrnn.tasks.d4rl_data import Episode, normalized_score, write_d4rl


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A small dataset in D4RL's format, rolled out in the real Gymnasium Hopper-v4."""
    d = tmp_path_factory.mktemp("d4rl")
    write_d4rl(d / "hopper_medium-v2.hdf5", collect("hopper", 12, seed=0, max_steps=60))
    return d


def toy_task(tmp_path, lengths=(5, 3), K=4):
    eps = [
        Episode(
            np.random.default_rng(i).normal(size=(n, 2)).astype(np.float32),
            np.full((n, 1), 0.1 * (i + 1), np.float32),
            np.arange(1, n + 1, dtype=np.float32),
            True,
        )
        for i, n in enumerate(lengths)
    ]
    write_d4rl(tmp_path / "hopper_medium-v2.hdf5", eps)
    return D4RL(path=str(tmp_path), context=K, return_scale=10.0, embed_dim=8), eps


def test_windows_hold_scaled_returns_to_go_normalised_states_and_right_padding(tmp_path):
    task, eps = toy_task(tmp_path)
    states = np.concatenate([e.observations for e in eps])
    np.testing.assert_allclose(task.state_mean, states.mean(0), rtol=1e-6)
    x, y = task.window(0, 2)  # episode of 5 from t=2: three real steps, one padded
    rtg = [sum(range(t + 1, 6)) for t in range(5)]  # rewards 1..5, undiscounted
    np.testing.assert_allclose(x[:3, 0], np.array(rtg[2:]) / 10.0)
    np.testing.assert_allclose(x[:3, 1:3], (eps[0].observations[2:] - task.state_mean) / task.state_std, rtol=1e-5)
    assert x[:3, -1].tolist() == [2, 3, 4] and y[:, -1].tolist() == [1, 1, 1, 0]
    assert (x[3] == 0).all() and torch.allclose(y[:3, 0], torch.tensor(0.1))


def test_loss_and_metric_ignore_padding(tmp_path):
    task, _ = toy_task(tmp_path)
    x, y = task.window(1, 1)  # 2 real steps of 4
    pred = torch.zeros(1, 4, 1)
    base = task.loss(pred, y[None])
    pred[:, 2:] = 100.0
    assert task.loss(pred, y[None]) == base == pytest.approx(0.2**2)
    assert task.metrics(pred, y[None])["action_mse"] == pytest.approx(0.04)


def test_batches_are_deterministic_and_sample_episodes_by_length(tmp_path):
    task, _ = toy_task(tmp_path, lengths=(30, 10))
    a, b = task.train_batch(16, 5), task.train_batch(16, 5)
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], task.train_batch(16, 6)[0])
    assert task.p_episode.tolist() == pytest.approx([0.75, 0.25])


def test_trains_and_scores_rollouts_end_to_end(data_dir, tmp_path):
    over = [
        "task=d4rl",
        f"task.path={data_dir}",
        "task.eval_episodes=2",
        "task.max_ep_len=40",
        "task.arch.dim=16",
        "trainer.max_steps=6",
        "trainer.eval_every=3",
        "task.eval_windows=64",
        "logger.mode=disabled",
        "trainer.progress=false",
        f"paths.runs={tmp_path}/runs",
        f"paths.results={tmp_path}/results",
    ]
    summary = run(compose_cfg(over))
    final = summary["metrics"]["final"]
    assert summary["run_name"] == f"d4rl/hopper-medium/cpu/mingru-L3-s0-{summary['identity']}"
    assert (tmp_path / f"results/{summary['run_name']}.json").exists()
    assert final["gym_id"] == "Hopper-v4" and final["rollout"] == "step" and final["eval_episodes"] == 2
    assert 1 <= final["length_target3600"] <= 40
    # the score is D4RL's normalisation of the mean return (linear, so of each episode's too)
    assert final["score"] == pytest.approx(float(normalized_score("hopper", final["return_target3600"])))
    assert summary["config"]["trainer"]["keep"] == "last" and summary["metrics"]["steps"] == 6


def test_transformer_rolls_out_over_its_window(data_dir, tmp_path):
    task = D4RL(path=str(data_dir), eval_episodes=1, max_ep_len=10, context=4, embed_dim=16)
    from minrnn.baselines.transformer import Transformer

    model = task.wrap(Transformer(dim=16, depth=1, dim_out=task.dim_out, dim_in=16, heads=2))
    returns, lengths, mode = task.rollout_returns(model, 3600.0, 2, seed=0)
    assert mode == "window" and returns.shape == (2,) and (lengths <= 10).all()


def test_a_small_model_learns_to_imitate_the_data(data_dir, tmp_path):
    """Behaviour cloning on the generated data (which DT also evaluates offline on: it keeps no held-out
    set): the action error on the dataset's windows falls far below the actions' variance."""
    over = [
        "task=d4rl",
        f"task.path={data_dir}",
        "task.eval_episodes=0",
        "task.arch.dim=32",
        "task.arch.dropout=0",
        "task.arch.rnn_dropout=0",
        "trainer.max_steps=200",
        "trainer.eval_every=200",
        "trainer.warmup_steps=10",
        "task.eval_windows=128",
        "logger.mode=disabled",
        "trainer.progress=false",
        f"paths.runs={tmp_path}/runs",
        f"paths.results={tmp_path}/results",
    ]
    summary = run(compose_cfg(over))
    task = D4RL(path=str(data_dir))
    actions = np.concatenate([e.actions for e in task.episodes])
    assert summary["metrics"]["test_action_mse"] < 0.25 * actions.var(0).mean()


def test_bad_settings_are_named(data_dir):
    with pytest.raises(ValueError, match="task.rollout must be auto, step or window"):
        D4RL(path=str(data_dir), rollout="sideways")
    with pytest.raises(ValueError, match="task.source must be d4rl or minari"):
        D4RL(path=str(data_dir), source="zip")
