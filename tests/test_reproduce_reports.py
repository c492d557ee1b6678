"""make reproduce's reports in one process (minrnn/reports/reproduce.py): each step is its script's own
command, and a preset composed from its shared base equals the preset composed whole (minrnn.reports.runs)."""

import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from minrnn.harness.config import CONFIGS, identity, register_resolvers
from minrnn.reports import reproduce, runs

ROOT = Path(__file__).resolve().parent.parent


def whole(overrides, scale="cpu"):
    """The reference: the preset composed as minrnn-train composes it."""
    register_resolvers()
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        return identity(OmegaConf.to_container(compose("train", [*overrides, f"scale={scale}"]), resolve=True))


def fast(overrides, scale="cpu"):
    runs._IDENTITIES.clear()
    return runs.preset_identities({0: list(overrides)}, scale)[0]


@pytest.mark.parametrize(
    "overrides",
    [
        ["experiment=table1/mingru", "task.arch.depth=2"],
        ["experiment=table2/mamba"],
        ["experiment=claims/copy_minlstm_long"],
        ["model=minlstm", "task=chomsky", "task.problem=parity_check", "task.arch.dim=64"],
        ["experiment=recall/mingru_conv", "task.seq_len=128", "task.num_kv_pairs=8", "trainer.lr=0.001"],
        ["experiment=table2/mingru", "trainer.betas=[0.8,0.9]", "+trainer.nosuch=1"],  # an addition: whole
    ],
)
@pytest.mark.parametrize("scale", ["cpu", "paper"])
def test_a_preset_from_its_base_equals_the_preset_composed_whole(overrides, scale):
    if "+trainer.nosuch=1" in overrides:  # the schema refuses it; the identity is still the composed one
        assert runs._split(tuple(overrides)) is None
    assert fast(overrides, scale) == whole(overrides, scale)


@settings(max_examples=10, deadline=None)
@given(
    model=st.sampled_from(["mingru", "minlstm", "mamba", "transformer"]),
    dim=st.sampled_from([16, 32, 64, 128]),
    lr=st.sampled_from(["0.003", "1e-3", "3e-4", "0.01"]),
    length=st.sampled_from([(64, 4), (128, 8), (256, 16)]),
)
def test_any_recall_cell_from_its_base_equals_composing_it_whole(model, dim, lr, length):
    overrides = [
        f"experiment=recall/{model}",
        f"task.seq_len={length[0]}",
        f"task.num_kv_pairs={length[1]}",
        f"task.arch.dim={dim}",
        f"trainer.lr={lr}",
    ]
    assert fast(overrides) == whole(overrides)


def test_each_step_is_its_scripts_own_command():
    """The one process runs exactly what each script runs (scripts/<step>.py calls the same object)."""
    for name, module, report, _ in reproduce.STEPS:
        text = (ROOT / "scripts" / f"{name}.py").read_text()
        owner = report or module.rsplit(".", 1)[-1]
        assert re.search(rf"cli\.run\({re.escape(owner)}\.run, ap, argv\)", text), name
    recipe = (ROOT / "Makefile").read_text().split("\nreproduce:", 1)[1].split("\n\n", 1)[0]
    assert "scripts/make_reports.py" in recipe and "scripts/bench_layers.py" in recipe
