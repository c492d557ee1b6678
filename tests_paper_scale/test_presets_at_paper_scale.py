"""Every experiment= preset at scale=paper runs one optimizer step on CPU, with the batch and the
evaluation cut down by the same overrides for every task (make test-paper-scale, in CI), so a GPU
user's first command cannot fail on shapes, keys or plumbing. Data-backed presets read small files
this test writes in the real formats. The models are the paper's sizes; only data and batch shrink."""

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from minrnn.harness.config import CONFIGS, register_resolvers
from minrnn.harness.train import run

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from lra_files import write_aan, write_cifar  # noqa: E402  (the tests' writers of LRA's formats)

register_resolvers()
PRESETS = sorted(
    str(p.relative_to(Path(CONFIGS) / "experiment").with_suffix(""))
    for p in (Path(CONFIGS) / "experiment").rglob("*.yaml")
)
CUT = [  # the same names for every task
    "trainer.max_steps=1",
    "trainer.batch_size=2",
    "trainer.eval_every=1",
    "++task.eval_batches=1",
    "task.eval_batch_size=2",
    "logger.mode=disabled",
    "trainer.progress=false",
    "threads=2",
]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, list[str]]:
    """Per task, the overrides that point it at small files in its real format."""
    root = tmp_path_factory.mktemp("data")
    (root / "shakespeare.txt").write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n" * 400)
    d4rl = root / "d4rl"
    d4rl.mkdir()
    n = 400
    with h5py.File(d4rl / "hopper_medium-v2.hdf5", "w") as f:  # D4RL's layout: 4 episodes of 100 steps
        f["observations"] = np.random.default_rng(0).normal(size=(n, 11))
        f["actions"] = np.random.default_rng(1).uniform(-1, 1, size=(n, 3))
        f["rewards"] = np.ones(n)
        f["terminals"] = np.zeros(n, bool)
        f["timeouts"] = np.arange(n) % 100 == 99
    return {
        "shakespeare": [f"task.path={root / 'shakespeare.txt'}", "task.md5=null"],
        "d4rl": [f"task.path={d4rl}", "task.eval_episodes=0", "task.eval_windows=2"],
        "listops": ["task.n_train=4", "task.n_eval=2"],
        "retrieval": [f"task.path={write_aan(root / 'aan')}"],
        "gimage": [f"task.path={write_cifar(root / 'cifar')}"],
    }


@pytest.mark.parametrize("preset", PRESETS)
def test_one_step_at_paper_scale(preset, data, tmp_path):
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        probe = compose("train", [f"experiment={preset}", "scale=paper"])
        kind = OmegaConf.select(probe, "task._target_").rsplit(".", 2)[-2]
        overrides = [f"experiment={preset}", "scale=paper", *CUT, *data.get(kind, [])]
        overrides += [f"paths.runs={tmp_path}/runs", f"paths.results={tmp_path}/results"]
        if probe.trainer.get("grad_accum", 1) > 2:
            overrides.append("trainer.grad_accum=2")
        cfg = compose("train", overrides)
    summary = run(cfg)
    assert summary["metrics"]["steps"] == 1 and summary["scale"] == "paper"
    assert summary["config"]["task"]["arch"] == OmegaConf.to_container(probe.task.arch, resolve=True)  # paper sizes
