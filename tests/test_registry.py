"""minrnn/harness/registry.py: one registry of models, read by every table, figure and benchmark. A toy
model added from outside the package (one Python file, one YAML file) trains through minrnn-train and
shows up in Table 2, in Figure 1's benchmark and its report."""

import json
import os
import subprocess
import sys
from pathlib import Path

from harness import compose_cfg
from omegaconf import OmegaConf

from minrnn.harness import registry
from minrnn.harness.config import identity

ROOT = Path(__file__).resolve().parent.parent
TOY = '''
import torch
from torch import nn


class ToyModel(nn.Module):
    """An embedding and a linear read-out: a model of our own, outside minrnn."""

    def __init__(self, dim, depth, dim_out, vocab_size=None, dim_in=None):
        super().__init__()
        self.embed, self.out = nn.Embedding(vocab_size, dim), nn.Linear(dim, dim_out)

    def forward(self, x):
        return self.out(torch.cumsum(self.embed(x), dim=1))
'''
TOY_YAML = """name: toy
display:
  name: Toy
  color: tab:olive
  order: 10
net:
  _target_: toy_model.ToyModel
  dim: ${task.arch.dim}
  depth: ${task.arch.depth}
"""


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


def test_a_model_from_outside_the_package_trains_and_shows_up_in_a_table_and_a_figure(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code/toy_model.py").write_text(TOY)
    (tmp_path / "configs/model").mkdir(parents=True)
    (tmp_path / "configs/model/toy.yaml").write_text(TOY_YAML)
    env = {**os.environ, "MINRNN_CONFIGS": str(tmp_path / "configs"), "PYTHONPATH": str(tmp_path / "code")}
    bin_dir = Path(sys.executable).parent
    results, out = tmp_path / "results", tmp_path / "out"
    train = [str(bin_dir / "minrnn-train"), "experiment=table2", "model=toy", "seed=0", "threads=1"]
    train += [
        f"paths.results={results}",
        f"paths.runs={tmp_path}/runs",
        "logger.mode=disabled",
        "trainer.progress=false",
    ]
    done = subprocess.run(train, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (summary,) = (results / "selective_copy/cpu").glob("toy-L3-s0-*.json")
    assert json.loads(summary.read_text())["implementation"] == "ToyModel"

    tables = [sys.executable, "scripts/make_tables.py", "--results", str(results), "--scale", "cpu", "--out", str(out)]
    done = subprocess.run(tables, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| Toy (ours) | Toy | " in (out / "table2_cpu.md").read_text()

    bench = [sys.executable, "scripts/bench_training.py", "--models", "Toy", "minGRU", "--lengths", "16"]
    bench += ["--batch", "2", "--repeats", "1", "--in-process", "--out", str(out)]
    done = subprocess.run(bench, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    plot = [sys.executable, "scripts/make_figure1_3_4.py", "--results", str(out), "--scale", "cpu"]
    done = subprocess.run(plot, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "training_cpu.png").exists() and "Toy" in (out / "efficiency_cpu.md").read_text()
