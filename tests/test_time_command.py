"""scripts/time_command.py: a command's time kept as a results file, the docs' Times table made from it."""

import json
import re
import subprocess
import sys
from pathlib import Path

from minrnn.reports.docs import timings

ROOT = Path(__file__).resolve().parent.parent


def run(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "scripts/time_command.py", *args], cwd=ROOT, capture_output=True, text=True)


def test_a_timed_command_is_recorded_with_its_exit_code_and_shows_in_the_times_table(tmp_path):
    out = tmp_path / "results" / "timings"
    ok = run(
        tmp_path,
        "quick",
        "--what",
        "a sleep",
        "--out",
        str(out),
        "--",
        sys.executable,
        "-c",
        "import time; time.sleep(1.2)",
    )
    assert ok.returncode == 0, ok.stderr
    rec = json.loads((out / "quick.json").read_text())
    assert rec["exit_code"] == 0 and 1.2 <= rec["seconds"] < 30 and rec["what"] == "a sleep"
    assert rec["commit"] and rec["provenance"]["device_name"]
    bad = run(tmp_path, "failing", "--out", str(out), "--", sys.executable, "-c", "raise SystemExit(3)")
    assert bad.returncode == 3 and json.loads((out / "failing.json").read_text())["exit_code"] == 3
    table = timings(tmp_path / "results")
    row = next(line for line in table.splitlines() if "time.sleep(1.2)" in line)
    assert re.search(r"\| 0 min \d+ s \| \d{4}-\d\d-\d\d at \w{7}, .*, load \d+\.\d \| a sleep \|$", row), row
    assert ", exit 3 |" in table


def test_a_bad_name_or_folder_is_one_message(tmp_path):
    for args in (["Bad Name", "--", "true"], ["ok", "--cwd", str(tmp_path / "nowhere"), "--", "true"]):
        out = run(tmp_path, *args, "--out", str(tmp_path))
        assert out.returncode == 2 and "error" in out.stderr and "Traceback" not in out.stderr
