"""scripts/make_recall.py and minrnn.reports.recall.collect: the best learning rate by the seeds' mean."""

import json
import subprocess
import sys
from pathlib import Path

from harness import write_summary

from minrnn.reports.recall import collect

ROOT = Path(__file__).resolve().parent.parent


def run(results: Path, model: str, width: int, lr: float, seed: int, acc: float) -> None:
    overrides = [f"experiment=recall/{model}", f"task.arch.dim={width}", f"trainer.lr={lr}"]
    metrics = {"test_acc": acc, "best_val": acc, "steps": 1500, "best_step": 1500, "stop_reason": "max_steps"}
    write_summary(results, overrides, metrics | {"val_history": [{"step": 1500, "val_acc": acc}]}, seed)


def test_the_learning_rate_is_chosen_by_the_mean_over_seeds_not_a_lucky_seed(tmp_path):
    results = tmp_path / "results"
    run(results, "mamba", 32, 3e-3, 0, 0.95)  # one lucky seed at 3e-3
    run(results, "mamba", 32, 3e-3, 1, 0.25)
    run(results, "mamba", 32, 1e-2, 0, 0.80)  # steadier at 1e-2
    run(results, "mamba", 32, 1e-2, 1, 0.70)
    run(results, "transformer", 32, 3e-3, 0, 1.0)
    best, bad, ignored = collect(results, "cpu")
    assert not bad and not ignored
    (cell,) = best["L64-P4"]["mamba"].values()
    assert cell["config"]["trainer"]["lr"] == 1e-2 and abs(cell["metrics"]["test_acc"] - 0.75) < 1e-12
    assert cell["_n"] == 2 and cell["_lrs"] == [3e-3, 1e-2]
    out = subprocess.run(
        [sys.executable, "scripts/make_recall.py", "--results", str(results)], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    table = (results / "recall" / "recall_cpu.md").read_text()
    assert "| L64-P4 | Mamba | 32 x 1 | 1024 | 0.01 | 0.750 | 2 | 0.003, 0.01 |" in table
    rows = json.loads((results / "recall" / "recall_cpu.json").read_text())["rows"]
    assert {r["model"] for r in rows} == {"Mamba", "Transformer"}
    assert (results / "recall" / "recall_cpu.png").stat().st_size > 0


def test_no_runs_is_one_message(tmp_path):
    out = subprocess.run(
        [sys.executable, "scripts/make_recall.py", "--results", str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 2 and "no MQAR runs" in out.stderr and "Traceback" not in out.stderr
