import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_run(folder: Path, model: str, depth: int, seed: int, acc: float, lr=1e-3, **drop):
    rec = {
        "config": {"model": {"name": model}, "seed": seed, "scale": "cpu", "run_name": f"{model}-{seed}",
                   "task": {"seq_len": 64, "num_tokens": 8, "vocab_size": 16, "seed": seed,
                            "arch": {"depth": depth, "dim": 64}},
                   "trainer": {"max_steps": 10, "batch_size": 64, "optimizer": "adam", "lr": lr}},
        "provenance": {"git_commit": "abc", "device_name": "cpu"}, "seed": seed, "scale": "cpu", "implementation": "x",
        "wall_seconds": 60.0, "metrics": {"test_acc": acc, "val_history": [{"step": 5, "val_acc": acc / 2},
                                                                           {"step": 10, "val_acc": acc}]},
    }  # fmt: skip
    for k in drop:
        rec.pop(k)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{model}-L{depth}-s{seed}.json").write_text(json.dumps(rec))


def tables(results: Path):
    return subprocess.run([sys.executable, "scripts/make_tables.py", "--results", str(results)], cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip


def test_tables_show_mean_std_n_beside_the_paper_and_missing_runs(tmp_path):
    folder = tmp_path / "selective_copy/cpu"
    for seed, acc in enumerate([0.9, 1.0, 0.95]):
        write_run(folder, "mingru", 3, seed, acc)
    write_run(folder, "minlstm", 1, 0, 0.4)
    out = tables(tmp_path)
    assert out.returncode == 0, out.stderr
    t1 = (tmp_path / "tables/table1_cpu.md").read_text()
    assert "| minGRU | 3 | 95.0 ± 5.0 (n=3) | 99.5 ± 0.2 |" in t1
    assert "| minLSTM | 1 | 40.0 (n=1) | 37.6 ± 2.0 |" in t1
    assert "| minGRU | 1 | missing | 37.0 ± 2.3 |" in t1
    t2 = (tmp_path / "tables/table2_cpu.md").read_text()
    assert "| GRU (ours) | GRU | missing | not in the paper |" in t2 and "| S4 | S4 |" in t2
    assert r"$\pm$" in (tmp_path / "tables/table1_cpu.tex").read_text()
    assert (tmp_path / "tables/selective_copy_curves_cpu.png").read_bytes()[:4] == b"\x89PNG"


def test_runs_of_different_configs_are_never_averaged(tmp_path):
    folder = tmp_path / "selective_copy/cpu"
    write_run(folder, "mingru", 3, 0, 0.9)
    write_run(folder, "mingru", 3, 1, 0.8, lr=3e-4)
    out = tables(tmp_path)
    assert out.returncode == 2 and "different configs" in out.stderr


def test_a_file_without_provenance_is_refused_and_an_empty_folder_is_named(tmp_path):
    write_run(tmp_path / "selective_copy/cpu", "mingru", 3, 0, 0.9, provenance=True)
    out = tables(tmp_path)
    assert out.returncode == 2 and "lacks provenance" in out.stderr and "Traceback" not in out.stderr
    out = tables(tmp_path / "nothing")
    assert out.returncode == 2 and "no run summaries" in out.stderr


def test_runs_without_a_summary_are_reported_as_unfinished(tmp_path):
    write_run(tmp_path / "results/selective_copy/cpu", "mingru", 3, 0, 0.9)
    (tmp_path / "runs/selective_copy/cpu/mingru-L3-s0").mkdir(parents=True)
    (tmp_path / "runs/selective_copy/cpu/mingru-L3-s0/checkpoint.pt").write_bytes(b"x")  # has its summary
    (tmp_path / "runs/selective_copy/cpu/mingru-L3-s1").mkdir(parents=True)
    (tmp_path / "runs/selective_copy/cpu/mingru-L3-s1/checkpoint.pt").write_bytes(b"x")  # crashed or running
    out = tables(tmp_path / "results")
    assert out.returncode == 0, out.stderr
    assert "1 unfinished or failed runs: mingru-L3-s1" in out.stderr
    assert (
        "(failed, stopped or still running): mingru-L3-s1." in (tmp_path / "results/tables/table1_cpu.md").read_text()
    )
