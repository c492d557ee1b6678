import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_layers_writes_times_ratios_and_provenance(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "scripts/bench_layers.py",
            "--lengths",
            "8",
            "16",
            "--batch",
            "2",
            "--dim",
            "4",
            "--repeats",
            "2",
            "--budget",
            "600",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    rec = json.loads((tmp_path / "layers.json").read_text())
    assert {r["T"] for r in rec["rows"]} == {8, 16} and all(r["q1"] <= r["seconds"] <= r["q3"] for r in rec["rows"])
    assert len(rec["rows"]) == 2 * 11 and {r["rounds"] for r in rec["rows"]} == {2}
    assert rec["ratio_spread"]["MinGRU / its projections"].keys() == {"8", "16"} and rec["skipped"] == {}
    assert rec["load"].startswith("Machine ") and "load average" in out.stdout
    assert "round 2/2" in out.stdout and "T=16: warm-up of 11 layers" in out.stdout  # progress
    assert rec["ratios"]["packed MinGRU / MinGRU"].keys() == {"8", "16"}
    assert rec["ratios"]["nn.GRU (fused) / MinGRU"].keys() == {"8", "16"}
    assert rec["provenance"]["torch"] and rec["provenance"]["git_commit"]
    assert "| nn.GRU (fused) / MinGRU |" in (tmp_path / "layers.md").read_text()


def test_bench_layers_rejects_bad_arguments(tmp_path):
    out = subprocess.run(
        [sys.executable, "scripts/bench_layers.py", "--lengths", "0", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "must be positive" in out.stderr and "Traceback" not in out.stderr
