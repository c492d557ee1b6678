"""scripts/layer_precision.py: the committed precision table's script, on short sequences."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_backend_and_mode_stays_within_half_rounding_and_writes_its_record(tmp_path):
    out = subprocess.run(
        [sys.executable, "scripts/layer_precision.py", "--lengths", "64", "--channels", "8", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    rec = json.loads((tmp_path / "layer_precision.json").read_text())
    rows = rec["rows"]
    assert {r["backend"] for r in rows} == {"sequential", "log", "cpu", "triton", "step mode"}
    assert len(rows) == 2 * (2 * 4 + 2 * 5)
    for r in rows:  # bf16 has 8 bits of mantissa: 2^-8 = 3.9e-3 per rounding; fp16 2^-11
        limit = 3e-2 if "bf16" in r["inputs"] else 5e-3
        assert r["finite"] and 0 < r["error"] < limit, r
        assert r["output_dtype"] == (
            "float32"
            if r["inputs"].startswith("autocast")
            else r["inputs"][:4].replace("bf16", "bfloat16").replace("fp16", "float16")
        )
    assert rec["provenance"]["git_commit"]
    assert "| MinLSTM | bf16 model | step mode |" in (tmp_path / "layer_precision.md").read_text()


def test_bad_arguments_are_one_message(tmp_path):
    out = subprocess.run(
        [sys.executable, "scripts/layer_precision.py", "--lengths", "0", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "must be positive" in out.stderr and "Traceback" not in out.stderr
