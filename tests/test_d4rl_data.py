import h5py
import numpy as np
import pytest

from minrnn.tasks.d4rl import collect
from minrnn.tasks.download import DataError
from tasks import d4rl_data as D


def test_normalized_scores_use_d4rls_reference_returns():
    # d4rl/infos.py: REF_MIN_SCORE (random) and REF_MAX_SCORE (expert)
    assert D.normalized_score("hopper", -20.272305) == pytest.approx(0.0)
    assert D.normalized_score("hopper", 3234.3) == pytest.approx(100.0)
    assert D.normalized_score("walker2d", 1.629008) == pytest.approx(0.0)
    assert D.normalized_score("halfcheetah", 12135.0) == pytest.approx(100.0)
    # DT's HalfCheetah-Medium score 42.6 is a return of about 5008.7
    assert D.normalized_score("halfcheetah", 5008.7) == pytest.approx(100 * (5008.7 + 280.178953) / 12415.178953)
    assert D.normalized_score("halfcheetah", 5008.7) == pytest.approx(42.6, abs=0.01)
    np.testing.assert_allclose(D.normalized_score("walker2d", [1.629008, 4592.3]), [0.0, 100.0])
    with pytest.raises(ValueError, match="unknown D4RL environment 'ant'"):
        D.normalized_score("ant", 1.0)


def write_raw(path, terminals, timeouts):
    n = len(terminals)
    with h5py.File(path, "w") as f:
        f["observations"] = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
        f["actions"] = np.ones((n, 2))
        f["rewards"] = np.arange(n, dtype=np.float64)
        f["terminals"], f["timeouts"] = np.array(terminals, bool), np.array(timeouts, bool)


def test_episodes_split_after_terminals_and_timeouts_and_keep_a_trailing_one(tmp_path):
    write_raw(tmp_path / "x.hdf5", [0, 1, 0, 0, 0, 0, 1, 0, 0], [0, 0, 0, 1, 0, 0, 0, 0, 0])
    eps = D.read_d4rl(tmp_path / "x.hdf5")
    assert [len(e) for e in eps] == [2, 2, 3, 2]
    assert [e.terminal for e in eps] == [True, False, True, False]
    assert eps[2].rewards.tolist() == [4, 5, 6] and eps[2].observations.dtype == np.float32


def test_roundtrip_of_real_gymnasium_rollouts(tmp_path):
    eps = collect("hopper", 4, seed=1, max_steps=30)
    assert any(e.terminal for e in eps) or all(len(e) == 30 for e in eps)
    path = tmp_path / "hopper_medium-v2.hdf5"
    D.write_d4rl(path, eps)
    with h5py.File(path) as f:
        assert set(f) == set(D.KEYS) and f["observations"].shape == (sum(map(len, eps)), 11)
    back = D.read_d4rl(path)
    assert len(back) == len(eps)
    for a, b in zip(eps, back, strict=True):
        assert a.terminal == b.terminal
        np.testing.assert_array_equal(a.observations, b.observations)
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.rewards, b.rewards)


def test_missing_files_name_the_file_url_and_setting(tmp_path):
    with pytest.raises(DataError, match=r"hopper_medium-v2.hdf5 not found .*rail.eecs.berkeley.edu.*task.path"):
        D.locate("hopper", "medium", str(tmp_path / "nope.hdf5"), str(tmp_path))
    with pytest.raises(
        DataError,
        match=r"walker2d_medium_replay-v2.hdf5 is not in .*task.download=false.*"
        r"gym_mujoco_v2/walker2d_medium_replay-v2.hdf5",
    ):
        D.locate("walker2d", "medium_replay", None, str(tmp_path), download_missing=False)
    with pytest.raises(ValueError, match="unknown D4RL dataset hopper-expert"):
        D.locate("hopper", "expert", None, str(tmp_path))


def test_a_failed_download_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(D, "URL", "file:///nonexistent/{env}_{dataset}-v2.hdf5")
    with pytest.raises(DataError, match=r"could not download file:///nonexistent/hopper_medium-v2.hdf5"):
        D.locate("hopper", "medium", None, str(tmp_path / "cache"))
    assert not list((tmp_path / "cache").iterdir())


def test_a_folder_path_finds_d4rls_file_name_and_bad_files_are_named(tmp_path):
    write_raw(tmp_path / "hopper_medium-v2.hdf5", [0, 1], [0, 0])
    assert D.locate("hopper", "medium", str(tmp_path), "unused") == tmp_path / "hopper_medium-v2.hdf5"
    with h5py.File(tmp_path / "bad.hdf5", "w") as f:
        f["observations"] = np.zeros((2, 3))
    with pytest.raises(DataError, match="missing datasets actions, rewards, terminals, timeouts .*not a D4RL dataset"):
        D.read_d4rl(tmp_path / "bad.hdf5")
    (tmp_path / "junk.hdf5").write_text("not hdf5")
    with pytest.raises(DataError, match="junk.hdf5: not a readable HDF5 file"):
        D.read_d4rl(tmp_path / "junk.hdf5")


def test_reads_minaris_episode_groups(tmp_path):
    path = tmp_path / "main_data.hdf5"
    with h5py.File(path, "w") as f:
        for i, (n, term) in enumerate([(3, True), (2, False)]):
            g = f.create_group(f"episode_{i}")
            g["observations"] = np.full((n + 1, 4), i, dtype=np.float64)  # one longer: the final observation
            g["actions"] = np.zeros((n, 2))
            g["rewards"] = np.ones(n)
            g["terminations"] = np.eye(1, n, n - 1, dtype=bool)[0] & term
            g["truncations"] = np.eye(1, n, n - 1, dtype=bool)[0] & (not term)
    eps = D.read_minari(path)
    assert [len(e) for e in eps] == [3, 2] and [e.terminal for e in eps] == [True, False]
    assert eps[0].observations.shape == (3, 4) and eps[1].observations[0, 0] == 1
