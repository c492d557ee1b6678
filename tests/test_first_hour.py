"""A newcomer's first hour (#36 parts 2, 4, 5): a finished run is not retrained by accident, a run's end
says where everything went (W&B's offline folder with a sync command that works in bash, train.log
holding the run's log), and the installed commands say which extra they need."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from harness import compose_cfg, tiny
from omegaconf import OmegaConf

from minrnn.harness.config import identity
from minrnn.harness.train import run

ROOT = Path(__file__).resolve().parent.parent


def test_a_single_run_whose_result_exists_is_not_retrained_unless_forced(tmp_path, capsys):
    first = run(compose_cfg(tiny(tmp_path)))
    result = tmp_path / f"results/{first['run_name']}.json"
    before = result.read_bytes()
    again = run(compose_cfg(tiny(tmp_path)))
    out = capsys.readouterr().out
    assert again == json.loads(before) and result.read_bytes() == before  # nothing trained, nothing written
    assert f"{first['run_name']}: finished already ({result}); not retrained (trainer.force=true" in out
    forced = run(compose_cfg(tiny(tmp_path, "trainer.force=true")))
    assert forced["run_name"] == first["run_name"] and forced["identity"] == first["identity"]
    assert len(forced["metrics"]["stretches"]) == 2  # a new stretch of the same run, from its checkpoint
    assert json.loads(result.read_text())["metrics"]["stretches"] == forced["metrics"]["stretches"]
    config = OmegaConf.to_container(compose_cfg(tiny(tmp_path, "trainer.force=true")), resolve=True)
    assert identity(config) == first["identity"]  # force is not a setting of the result


def test_a_runs_end_says_where_its_result_checkpoint_logs_and_wandb_files_are(tmp_path):
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path / "wandb-home"), "WANDB_SILENT": "true"}
    argv = [sys.executable, "-m", "minrnn.harness.train", *tiny(tmp_path, "logger.mode=offline")]
    out = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    where = dict(re.findall(r"^  (result|checkpoint|logs|W&B) +(.+)$", out.stdout, re.M))
    (result,) = (tmp_path / "results/selective_copy/cpu").glob("*.json")
    run_dir = Path(json.loads(result.read_text())["run_dir"])
    assert Path(where["result"]) == result and Path(where["checkpoint"]) == run_dir / "checkpoint.pt"
    assert where["logs"] == f"{run_dir / 'metrics.jsonl'}, {run_dir / 'train.log'}"
    folder, command = re.fullmatch(r"(\S+) \(offline; upload: (wandb sync .+)\)", where["W&B"]).groups()
    assert Path(folder).is_dir() and Path(folder).parent == run_dir / "wandb"
    assert Path(folder).name.startswith("offline-run-") and list(Path(folder).glob("*.wandb"))
    words = shlex.split(command)  # what bash runs: the folder itself, no glob left to fail
    assert words == ["wandb", "sync", folder] and not set(folder) & set("*?[")
    log = (run_dir / "train.log").read_text()  # the run's own lines, as the console showed them
    assert "step 6: val acc " in log and "checkpoint" in log and "  result" in log


def blocked(*modules: str) -> str:
    """Python code that makes ``import <module>`` fail as if it were not installed."""
    return (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {list(modules)!r}:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
    )


def test_a_library_only_minrnn_train_names_the_extra_in_one_line(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(blocked("hydra", "omegaconf"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    (train,) = [e for e in entry_points(group="console_scripts") if e.name == "minrnn-train"]
    code = f"from {train.module} import {train.attr} as f; f()"
    out = subprocess.run([sys.executable, "-c", code, "task=selective_copy"], env=env, capture_output=True, text=True)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("minrnn-train: error: ")
    assert 'pip install "minrnn[repro]"' in out.stderr and "'hydra'" in out.stderr


def test_minrnn_generate_is_installed_and_reads_an_exported_model_without_the_harness(tmp_path):
    import torch

    from minrnn import SequenceModel

    (gen,) = [e for e in entry_points(group="console_scripts") if e.name == "minrnn-generate"]
    torch.manual_seed(0)
    model = SequenceModel(dim=8, depth=1, vocab_size=4, dim_out=4)
    model.save_pretrained(tmp_path / "m", extra={"vocabulary": "abcd"})
    (tmp_path / "sitecustomize.py").write_text(blocked("hydra", "omegaconf", "wandb"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    code = f"import sys; sys.argv[0] = 'minrnn-generate'; from {gen.module} import {gen.attr} as f; f()"
    argv = [sys.executable, "-c", code, str(tmp_path / "m"), "--prompt", "ab", "--tokens", "5", "--seed", "3"]
    out = subprocess.run(argv, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    expected = model.generate(torch.tensor([[0, 1]]), 5, 0.8, generator=torch.Generator().manual_seed(3))
    assert out.stdout == "".join("abcd"[i] for i in expected[0].tolist()) + "\n"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    out = subprocess.run([*argv[:3], str(run_dir)], env=env, capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert 'reading it needs the harness: pip install "minrnn[repro]"' in out.stderr
