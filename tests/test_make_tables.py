import json
import shutil
import subprocess
import sys
from pathlib import Path

from harness import compose_cfg, write_summary

from minrnn.harness.train import run

ROOT = Path(__file__).resolve().parent.parent


def write_run(results: Path, model: str, depth: int, seed: int, acc: float, *extra: str, **fields) -> Path:
    hist = [{"step": 5, "val_acc": acc / 2}, {"step": 10, "val_acc": acc}]
    preset = (
        [f"experiment=table1/{model}", f"task.arch.depth={depth}"]
        if model in ("mingru", "minlstm")
        else [f"experiment=table2/{model}"]
    )
    return write_summary(results, [*preset, *extra], {"test_acc": acc, "val_history": hist}, seed, **fields)


def tables(results: Path, *args: str):
    return subprocess.run(
        [sys.executable, "scripts/make_tables.py", "--results", str(results), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_tables_show_mean_std_n_beside_the_paper_and_missing_runs(tmp_path):
    for seed, acc in enumerate([0.9, 1.0, 0.95]):
        write_run(tmp_path, "mingru", 3, seed, acc)
    write_run(tmp_path, "minlstm", 1, 0, 0.4)
    out = tables(tmp_path)
    assert out.returncode == 0, out.stderr
    t1 = (tmp_path / "tables/table1_cpu.md").read_text()
    assert "| minGRU | 3 | 95.0 ± 5.0 (n=3) | 99.5 ± 0.2 |" in t1
    assert "| minLSTM | 1 | 40.0 (n=1) | 37.6 ± 2.0 |" in t1
    assert "| minGRU | 1 | missing | 37.0 ± 2.3 |" in t1
    t2 = (tmp_path / "tables/table2_cpu.md").read_text()
    assert "| minGRU (ours) | minGRU | 95.0 ± 5.0 (n=3) | 99.5 ± 0.2 |" in t2  # table1 depth 3 == table2
    assert "| GRU (ours) | GRU | missing | not in the paper |" in t2 and "| S4 | S4 |" in t2
    assert r"$\pm$" in (tmp_path / "tables/table1_cpu.tex").read_text()
    assert (tmp_path / "tables/selective_copy_curves_cpu.png").read_bytes()[:4] == b"\x89PNG"


def test_table2_lists_the_longer_minlstm_runs_in_rows_of_their_own(tmp_path):
    write_run(tmp_path, "minlstm", 3, 0, 0.7)
    for seed, acc in enumerate([0.96, 0.98]):
        metrics = {"test_acc": acc, "steps": 10000, "val_history": [{"step": 10000, "val_acc": acc}]}
        write_summary(tmp_path, ["experiment=claims/copy_minlstm_long"], metrics, seed)
    metrics = {"test_acc": 1.0, "steps": 5750, "val_history": [{"step": 5750, "val_acc": 1.0}]}
    write_summary(tmp_path, ["experiment=claims/copy_minlstm_norm_long"], metrics, 0)
    out = tables(tmp_path)
    assert out.returncode == 0, out.stderr
    t2 = (tmp_path / "tables/table2_cpu.md").read_text()
    assert "| minLSTM (ours) | minLSTM | 70.0 (n=1) | 96.0 ± 2.8 |" in t2  # the Table 2 cell: its own preset
    assert "| minLSTM (ours, claims/copy_minlstm_long: 10000 steps) | minLSTM | 97.0 ± 1.4 (n=2) | 96.0 ± 2.8 |" in t2
    assert (
        "| minLSTM, normalised gates (ours, claims/copy_minlstm_norm_long: 5750 steps) | minLSTM | 100.0 (n=1) |" in t2
    )
    assert "Ignored" not in t2


def test_runs_of_another_config_are_ignored_by_name_and_bad_files_left_out(tmp_path):
    write_run(tmp_path, "mingru", 3, 0, 0.9)
    other = write_run(tmp_path, "mingru", 3, 1, 0.1, "trainer.lr=3e-4")  # another config: never averaged in
    nan = write_run(tmp_path, "mingru", 3, 2, float("nan"))
    bare = write_run(tmp_path, "minlstm", 3, 0, 0.5)
    bare.write_text(json.dumps({k: v for k, v in json.loads(bare.read_text()).items() if k != "provenance"}))
    out = tables(tmp_path)
    assert out.returncode == 0, out.stderr
    t2 = (tmp_path / "tables/table2_cpu.md").read_text()
    rows = [line for line in t2.splitlines() if line.startswith("|")]
    assert "| minGRU (ours) | minGRU | 90.0 (n=1) | 99.5 ± 0.2 |" in rows and "nan" not in "".join(rows)
    assert f"Ignored, another config than the presets': {other.name}" in t2
    assert f"{nan}: metric test_acc is nan" in t2 and f"{bare}: provenance: missing" in t2
    assert "Traceback" not in out.stderr
    out = tables(tmp_path / "nothing")
    assert out.returncode == 2 and "no run summaries" in out.stderr and "Traceback" not in out.stderr


def test_a_trial_run_neither_overwrites_a_committed_result_nor_breaks_the_tables(tmp_path):
    """The incident of the library/harness issue, replayed on a copy of the committed Table 1-2 runs."""
    shutil.copytree(ROOT / "results/selective_copy", tmp_path / "selective_copy")
    before = {p.name: p.read_bytes() for p in (tmp_path / "selective_copy/cpu").iterdir()}
    trial = [
        "experiment=table2/mingru",
        "seed=1",
        "trainer.max_steps=20",
        "task.eval_batches=1",
        "logger.mode=disabled",
        "trainer.progress=false",
        f"paths.runs={tmp_path}/runs",
        f"paths.results={tmp_path}",
    ]
    summary = run(compose_cfg(trial))
    assert summary["metrics"]["steps"] == 20
    after = {p.name: p.read_bytes() for p in (tmp_path / "selective_copy/cpu").iterdir()}
    new = set(after) - set(before)
    assert len(new) == 1 and all(after[k] == v for k, v in before.items())  # nothing overwritten
    out = tables(tmp_path)
    assert out.returncode == 0, out.stderr
    t2 = (tmp_path / "tables/table2_cpu.md").read_text()
    committed = (ROOT / "results/tables/table2_cpu.md").read_text()
    ours = [line for line in t2.splitlines() if line.startswith("| minGRU (ours)")]
    assert ours and ours[0] in committed and f"Ignored, another config than the presets': {new.pop()}" in t2


def test_runs_without_a_summary_are_reported_as_unfinished(tmp_path):
    done = write_run(tmp_path / "results", "mingru", 3, 0, 0.9)
    (tmp_path / "runs/selective_copy/cpu" / done.stem).mkdir(parents=True)
    (tmp_path / "runs/selective_copy/cpu" / done.stem / "checkpoint.pt").write_bytes(b"x")  # has its summary
    crashed = done.stem.replace("-s0-", "-s1-")
    (tmp_path / "runs/selective_copy/cpu" / crashed).mkdir(parents=True)
    (tmp_path / "runs/selective_copy/cpu" / crashed / "checkpoint.pt").write_bytes(b"x")  # crashed or running
    out = tables(tmp_path / "results")
    assert out.returncode == 0, out.stderr
    assert f"still running): selective_copy/cpu/{crashed}." in (tmp_path / "results/tables/table1_cpu.md").read_text()


def test_a_tables_time_counts_every_stretch_of_a_resumed_run_and_names_older_runs():
    from minrnn.reports.runs import time_note

    resumed = {"wall_seconds": 600, "metrics": {"train_seconds_all_stretches": 3600 + 600}}
    old = {"wall_seconds": 1200, "metrics": {}}
    assert time_note([resumed]) == "1 run, 1.17 h of training (70.0 min per run)"
    assert time_note([resumed, old]) == (
        "2 runs, 1.50 h of training (20.0-70.0 min per run); "
        "1 of them from before stretches were recorded: their last process only"
    )
