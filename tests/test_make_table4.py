import subprocess
import sys
from pathlib import Path

from harness import write_summary

ROOT = Path(__file__).resolve().parent.parent
CHOMSKY = ["bucket_sort", "missing_duplicate", "cycle_nav", "even_pairs", "majority", "majority_count"]
LRA = ["retrieval", "listops", "gimage"]


def write_run(results: Path, column: str, model: str, seed: int, acc: float, *extra: str):
    if column in LRA:
        preset = [f"experiment=table4/lra_{model}"] + ([f"task={column}"] if column != "listops" else [])
    else:
        preset = [f"experiment=table4/{model}", f"task.problem={column}"]
    write_summary(results, [*preset, *extra], {"test_acc": acc}, seed)


def table4(results: Path):
    return subprocess.run(
        [sys.executable, "scripts/make_table4.py", "--results", str(results)], cwd=ROOT, capture_output=True, text=True
    )


def test_nine_columns_average_and_tagged_runs_left_out(tmp_path):
    for i, col in enumerate(CHOMSKY + LRA):
        write_run(tmp_path, col, "minlstm", 0, 0.1 * (i % 10))
        write_run(tmp_path, col, "minlstm", 1, 0.1 * (i % 10) + 0.02)
    write_run(tmp_path, "listops", "minlstm", 0, 0.99, "task.arch.mlp=false")  # another config: not Table 4
    write_run(tmp_path, "listops", "mingru", 0, 0.3)
    out = table4(tmp_path)
    assert out.returncode == 0, out.stderr
    md = (tmp_path / "tables/table4_cpu.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| minLSTM | ours"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "0.01 ± 0.01 (n=2)" and cells[9] == "0.71 ± 0.01 (n=2)"  # bucket sort, ListOps
    assert cells[11] == "0.41"  # mean of the nine means: 0.01 + 0.1 * (0 + ... + 8) = 0.41
    assert "| minGRU | ours (cpu) | - | - | - | - | - | - | - | 0.30 (n=1) | - | - |" in md
    assert "| minLSTM | paper | 0.94 | 0.26 | 0.79 | 1.00 | 0.93 | 0.47 | 0.89 | 0.59 | 0.67 | 0.73 |" in md


def test_no_results_is_a_clear_error(tmp_path):
    out = table4(tmp_path)
    assert out.returncode == 2 and "make reproduce-table4" in out.stderr and "Traceback" not in out.stderr
