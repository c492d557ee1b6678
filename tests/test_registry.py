"""minrnn/harness/registry.py: one registry of models, read by every table, figure and benchmark (a model
added from outside the package shows up in them: tests/test_extending.py, which follows docs/extending.md)."""

from pathlib import Path

from harness import compose_cfg
from omegaconf import OmegaConf

from minrnn.harness import registry
from minrnn.harness.config import identity

ROOT = Path(__file__).resolve().parent.parent


def test_the_registry_lists_the_six_models_in_display_order():
    assert registry.keys() == ["mingru", "minlstm", "mamba", "transformer", "gru", "lstm"]
    assert registry.names()["mamba"] == "Mamba" and [m.key for m in registry.models() if m.paper] == [
        "mingru",
        "minlstm",
    ]
    assert list(registry.benchmark_variants())[:2] == ["minGRU", "minGRU (log-space scan)"]
    assert registry.styles()["GRU (plain loop)"] == ("tab:red", "--")


def test_display_settings_are_not_part_of_a_runs_identity():
    """The committed runs predate model.display: their identities stay what they were."""
    config = OmegaConf.to_container(compose_cfg(["experiment=table2/gru", "scale=cpu"]), resolve=True)
    assert "display" in config["model"] and identity(config) == "9c676a6c"  # results/selective_copy/cpu/gru-L3-*
    del config["model"]["display"]
    assert identity(config) == "9c676a6c"


def test_the_template_presets_compose_the_same_runs_as_the_per_model_presets():
    for table in ("table1", "table2", "figure2", "table3", "table4"):
        for key in registry.keys():
            if table == "table1" and key not in ("mingru", "minlstm"):
                continue
            a = OmegaConf.to_container(compose_cfg([f"experiment={table}/{key}"]), resolve=True)
            b = OmegaConf.to_container(compose_cfg([f"experiment={table}", f"model={key}"]), resolve=True)
            assert identity(a) == identity(b), (table, key)
