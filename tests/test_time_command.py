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


def test_a_timing_of_another_config_is_never_written_over_unless_replace_is_given(tmp_path):
    out, marker = tmp_path / "timings", tmp_path / "ran"
    touch = ["--", sys.executable, "-c", f"open({str(marker)!r}, 'a').write('x')"]
    assert run(tmp_path, "t", "--conditions", "quiet", "--out", str(out), *touch).returncode == 0
    first = (out / "t.json").read_text()
    assert json.loads(first)["conditions"] == "quiet" and json.loads(first)["cwd_kind"] == "this checkout"
    loaded = run(tmp_path, "t", "--conditions", "loaded", "--out", str(out), *touch)
    assert loaded.returncode == 2 and len(loaded.stderr.strip().splitlines()) == 1, loaded.stderr
    assert "conditions: 'quiet' there, 'loaded' now" in loaded.stderr and "--replace" in loaded.stderr
    assert (out / "t.json").read_text() == first and marker.read_text() == "x"  # refused before it ran
    other = run(tmp_path, "t", "--conditions", "quiet", "--out", str(out), "--", sys.executable, "-c", "pass")
    assert other.returncode == 2 and "command: " in other.stderr and (out / "t.json").read_text() == first
    again = run(tmp_path, "t", "--conditions", "quiet", "--out", str(out), *touch)  # the same config: re-timed
    assert again.returncode == 0 and "replaces the timing there (same config)" in again.stdout
    forced = run(tmp_path, "t", "--conditions", "loaded", "--replace", "--out", str(out), *touch)
    assert forced.returncode == 0 and json.loads((out / "t.json").read_text())["conditions"] == "loaded"
    assert marker.read_text() == "xxx"
    old = json.loads(first) | {"name": "old"}  # a timing from before cwd_kind/conditions were recorded
    del old["cwd_kind"], old["conditions"]
    (out / "old.json").write_text(json.dumps(old))
    refused = run(tmp_path, "old", "--conditions", "quiet", "--out", str(out), *touch)
    assert refused.returncode == 2 and "cwd_kind: unrecorded there" in refused.stderr  # not None: missing


def test_the_kind_of_folder_is_part_of_a_timings_config(tmp_path):
    from minrnn.reports.timings import ROOT as checkout
    from minrnn.reports.timings import cwd_kind

    clone = tmp_path / "clone"
    clone.mkdir()
    assert cwd_kind(clone) == "another folder" and cwd_kind(checkout) == "this checkout"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=clone, check=True)
    (clone / "a").write_text("a")
    subprocess.run([*git, "add", "a"], cwd=clone, check=True)
    subprocess.run([*git, "commit", "-qm", "a"], cwd=clone, check=True)
    assert cwd_kind(clone) == "a fresh clone"
    (clone / ".venv").mkdir()
    (clone / ".venv" / "x").write_text("built")
    assert cwd_kind(clone) == "a used clone"


def test_a_command_with_other_words_or_an_unreadable_timing_is_another_config(tmp_path):
    out = tmp_path / "timings"
    assert run(tmp_path, "w", "--out", str(out), "--", "true", "a b").returncode == 0
    assert json.loads((out / "w.json").read_text())["command"] == "true 'a b'"  # as a shell reruns it
    split = run(tmp_path, "w", "--out", str(out), "--", "true", "a", "b")  # not the same command
    assert split.returncode == 2 and "command: \"true 'a b'\" there, 'true a b' now" in split.stderr, split.stderr
    (out / "w.json").write_text("[1]")  # not a timing: one line, never a traceback
    listed = run(tmp_path, "w", "--out", str(out), "--", "true")
    assert listed.returncode == 2 and len(listed.stderr.splitlines()) == 1 and "--replace" in listed.stderr
    assert run(tmp_path, "w", "--out", str(out), "--replace", "--", "true").returncode == 0
