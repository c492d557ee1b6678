import csv
import json

from cli import call

from minrnn.bench import training as bench_training

TINY = ["--lengths", "8", "16", "--repeats", "1", "--set", "task.arch.dim=8", "task.arch.depth=1"]


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_measures_every_model_and_length_once_and_resumes(tmp_path):
    argv = [*TINY, "--models", "minGRU", "GRU (plain loop)", "--out", str(tmp_path), "--in-process"]
    assert call(bench_training, argv) == 0
    first = rows(tmp_path / "training_cpu.csv")
    assert [(r["model"], r["T"], r["status"]) for r in first] == [
        ("minGRU", "8", "ok"),
        ("GRU (plain loop)", "8", "ok"),
        ("minGRU", "16", "ok"),
        ("GRU (plain loop)", "16", "ok"),
    ]
    assert all(float(r["ms_median"]) > 0 for r in first)
    assert first[0]["implementation"] == "MinGRU scan=cpu" and first[1]["implementation"] == "GRULayer impl=loop"
    meta = json.loads((tmp_path / "training_cpu.json").read_text())
    assert meta["settings"]["batch"] == 64 and meta["sessions"][0]["git_commit"]
    assert call(bench_training, argv) == 0  # rerun: everything already measured
    assert rows(tmp_path / "training_cpu.csv") == first
    assert call(bench_training, [*argv, "--batch", "32"]) == 2  # other settings are never mixed in


def test_a_fresh_process_per_config_measures_memory(tmp_path):
    argv = [*TINY[:1], "64", *TINY[3:], "--models", "minGRU", "--out", str(tmp_path)]
    assert call(bench_training, argv) == 0
    (row,) = rows(tmp_path / "training_cpu.csv")
    assert row["status"] == "ok" and float(row["peak_mib"]) > 0 and int(row["params"]) > 0
