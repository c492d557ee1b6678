"""Each task generator carries a VERSION that enters the run identity (task.version, configs/train.yaml):
bumping it gives new runs a new identity, while every committed result (made at version 1, which
minrnn.harness.config.ABSENT_AT hashes as absent) keeps its identity and file name."""

import pytest
from harness import compose_cfg
from omegaconf import OmegaConf

from minrnn.harness.config import identity, register_resolvers
from minrnn.tasks import chomsky, listops, mqar, selective_copy

register_resolvers()
GENERATORS = {
    "selective_copy": selective_copy.SelectiveCopy,
    "mqar": mqar.MQAR,
    "chomsky": chomsky.Chomsky,
    "listops": listops.ListOps,
}


def resolved(task: str) -> dict:
    return OmegaConf.to_container(compose_cfg([f"task={task}"]), resolve=True)


@pytest.mark.parametrize("task", GENERATORS)
def test_the_generator_version_enters_the_config_and_version_1_keeps_the_committed_identity(task):
    config = resolved(task)
    assert config["task"]["version"] == GENERATORS[task].VERSION == 1
    without = {**config, "task": {k: v for k, v in config["task"].items() if k != "version"}}
    assert identity(config) == identity(without)  # as the committed results, which have no task.version


@pytest.mark.parametrize("task", GENERATORS)
def test_bumping_a_generator_version_changes_the_identity_of_a_new_run(task, monkeypatch):
    before = resolved(task)
    monkeypatch.setattr(GENERATORS[task], "VERSION", 2)
    after = resolved(task)
    assert after["task"]["version"] == 2
    assert identity(after) != identity(before)
    assert after["run_name"] != before["run_name"]  # so its results file is another
    assert before["run_name"].endswith("-" + identity(before))  # a stored config keeps its version and identity


def test_a_task_without_a_version_is_version_1():
    config = resolved("shakespeare")
    assert config["task"]["version"] == 1


def test_the_generated_listops_cache_follows_the_version(tmp_path, monkeypatch):
    params = [4, 2, 5, 12, 3, 3, 0]
    listops.generated_splits(params, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["listops-4-2-5-12-3-3-0.json"]  # version 1: as before
    monkeypatch.setattr(listops.ListOps, "VERSION", 2)
    listops.generated_splits(params, tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["listops-4-2-5-12-3-3-0-v2.json", "listops-4-2-5-12-3-3-0.json"]
