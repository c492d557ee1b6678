"""D4RL MuJoCo locomotion data (Fu et al., 2020; the paper's Section 4.2, Table 3) without `d4rl` or `gym`.

Reads D4RL's v2 HDF5 files (observations, actions, rewards, terminals, timeouts: one row per
transition) from ``path``, or from ``cache_dir`` after downloading them from D4RL's public URL, and
splits them into episodes at terminals or timeouts, as the Decision Transformer's
``download_d4rl_datasets.py`` does. Minari's MuJoCo datasets (``mujoco/<env>/<dataset>-v0``; one HDF5
group per episode) are read too, with the caveat that they are not re-creations of D4RL: they were
collected in Gymnasium's v5 environments by other policies, and have no medium-replay.

Scores are D4RL-normalised: 100 * (return - random) / (expert - random), with D4RL's reference
returns (``d4rl/infos.py``: REF_MIN_SCORE, REF_MAX_SCORE).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minrnn.files import atomic_path
from minrnn.formats import Array, read_hdf5
from minrnn.reader import UnreadableFile
from minrnn.tasks.download import DataError, download

URL = "http://rail.eecs.berkeley.edu/datasets/offline_rl/gym_mujoco_v2/{env}_{dataset}-v2.hdf5"
ENVS = ("halfcheetah", "hopper", "walker2d")
DATASETS = ("medium", "medium_replay", "medium_expert")
# d4rl/infos.py REF_MIN_SCORE / REF_MAX_SCORE (random and expert policy returns), per environment
REFERENCE_RETURNS = {
    "halfcheetah": (-280.178953, 12135.0),
    "hopper": (-20.272305, 3234.3),
    "walker2d": (1.629008, 4592.3),
}
KEYS = ("observations", "actions", "rewards", "terminals", "timeouts")
# what read_d4rl / read_minari need of a file, checked before any array is read (minrnn.reader)
D4RL_ARRAYS = {
    "observations": Array("fiu", ("n", None)),
    "actions": Array("fiu", ("n", None)),
    "rewards": Array("fiu", ("n",)),
    "terminals": Array("biu", ("n",)),
    "timeouts": Array("biu", ("n",)),
}
MINARI_ARRAYS = {
    "observations": Array("fiu", ("n+1", None)),  # the final observation too
    "actions": Array("fiu", ("n", None)),
    "rewards": Array("fiu", ("n",)),
    "terminations": Array("biu", ("n",)),
}


def normalized_score(env: str, episode_return):
    """D4RL's normalised score x 100: 0 = the random policy, 100 = the expert (``get_normalized_score``)."""
    if env not in REFERENCE_RETURNS:
        raise ValueError(f"unknown D4RL environment {env!r}; choose one of {', '.join(REFERENCE_RETURNS)}")
    lo, hi = REFERENCE_RETURNS[env]
    return 100.0 * (np.asarray(episode_return, dtype=np.float64) - lo) / (hi - lo)


@dataclass
class Episode:
    observations: np.ndarray  # (T, obs_dim) float32
    actions: np.ndarray  # (T, act_dim) float32
    rewards: np.ndarray  # (T,) float32
    terminal: bool  # ended by the environment (not by a time limit)

    def __len__(self) -> int:
        return len(self.rewards)


def filename(env: str, dataset: str) -> str:
    return f"{env}_{dataset}-v2.hdf5"


def how_to_get(env: str, dataset: str) -> str:
    return (
        f"Download {URL.format(env=env, dataset=dataset)} and set task.path to the file (or to the folder holding it)"
    )


def locate(env: str, dataset: str, path: str | None, cache_dir: str, download_missing: bool = True) -> Path:
    """The HDF5 file: ``path`` (a file, or a folder holding D4RL's file name), else the cached
    download, fetched when missing and ``download_missing``."""
    if env not in ENVS or dataset not in DATASETS:
        raise ValueError(
            f"unknown D4RL dataset {env}-{dataset}; environments {', '.join(ENVS)}, datasets {', '.join(DATASETS)}"
        )
    name, how = filename(env, dataset), how_to_get(env, dataset)
    if path:
        p = Path(path).expanduser()
        p = p / name if p.is_dir() else p
        if not p.is_file():
            raise DataError(f"D4RL dataset {name} not found at {p} (task.path). {how}.")
        return p
    p = Path(cache_dir).expanduser() / name
    if not p.is_file():
        if not download_missing:
            raise DataError(f"D4RL dataset {name} is not in {p.parent} and task.download=false. {how}.")
        download(URL.format(env=env, dataset=dataset), p, how)
    return p


def read_d4rl(path: Path) -> list[Episode]:
    """Episodes of a D4RL-format HDF5 file, split after each terminal or timeout (a trailing
    unfinished episode is kept, as DT's script does)."""
    try:
        d = read_hdf5(path, D4RL_ARRAYS)
    except UnreadableFile as e:
        raise DataError(f"{e}: not a D4RL dataset this code reads; delete it to download it again") from None
    obs, act, rew, term, tout = (d[k] for k in KEYS)
    n = len(rew)
    ends = np.flatnonzero(term.astype(bool) | tout.astype(bool)) + 1
    bounds = [0, *ends.tolist()] + ([n] if not len(ends) or ends[-1] != n else [])
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    return [
        Episode(f32(obs[a:b]), f32(act[a:b]), f32(rew[a:b]), bool(term[b - 1]))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        if b > a
    ]


def read_minari(path: Path) -> list[Episode]:
    """Episodes of a Minari dataset's ``main_data.hdf5`` (one ``episode_<i>`` group each, with
    observations one longer than actions: the last is the final observation, dropped here)."""
    try:
        groups = read_hdf5(path, MINARI_ARRAYS, groups="episode_")
    except UnreadableFile as e:
        raise DataError(f"{e}: not a Minari dataset this code reads") from None
    widths = {(g["observations"].shape[1], g["actions"].shape[1]) for g in groups.values()}
    if len(widths) > 1:
        raise DataError(f"{path}: episodes of different observation/action widths {sorted(widths)}; not one dataset")
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    return [
        Episode(f32(g["observations"][:-1]), f32(g["actions"]), f32(g["rewards"]), bool(g["terminations"][-1]))
        for g in groups.values()
        if len(g["rewards"])
    ]


def write_d4rl(path: Path, episodes: list[Episode]) -> None:
    """Episodes as a D4RL-format HDF5 file (timeouts mark the episodes that did not terminate)."""
    import h5py

    cat = np.concatenate
    term = cat([np.eye(1, len(e), len(e) - 1, dtype=bool)[0] & e.terminal for e in episodes])
    tout = cat([np.eye(1, len(e), len(e) - 1, dtype=bool)[0] & (not e.terminal) for e in episodes])
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f["observations"] = cat([e.observations for e in episodes])
        f["actions"] = cat([e.actions for e in episodes])
        f["rewards"] = cat([e.rewards for e in episodes])
        f["terminals"], f["timeouts"] = term, tout
