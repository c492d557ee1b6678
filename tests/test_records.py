import json
import os
from pathlib import Path

import pytest

from minrnn.harness import records

ROOT = Path(__file__).resolve().parent.parent


def test_provenance_names_commit_versions_device_and_date():
    p = records.provenance()
    assert set(p) >= {"git_commit", "date", "device", "device_name", "torch", "python", "torch_threads"}
    assert p["device"] == "cpu" and p["date"].endswith("+00:00")
    assert len(p["git_commit"].split("-")[0]) == 40


def test_atomic_write_keeps_the_old_file_when_the_rename_fails(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    records.write_json_atomic(path, {"v": 1})

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        records.write_json_atomic(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left behind


def test_an_installed_copy_inside_another_repository_records_no_commit(tmp_path, monkeypatch):
    """A non-editable install under someone else's git checkout: that checkout's commit is not ours."""
    import subprocess

    from minrnn.harness import records

    other = tmp_path / "their-project"
    (other / "lib/python/site-packages").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    (other / "x.txt").write_text("x")
    subprocess.run(["git", "-C", str(other), "add", "x.txt"], check=True)
    subprocess.run(
        ["git", "-C", str(other), "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "x"], check=True
    )
    monkeypatch.setattr(records, "REPO", other / "lib/python/site-packages")
    assert records.git_commit() == "unknown"
    monkeypatch.setattr(records, "REPO", ROOT)
    assert records.git_commit() != "unknown"


@pytest.mark.parametrize(
    "recorded, quoted",
    [
        ("545a47f3a8e9fe556e66c93ad24d68914d0283c6", "545a47f"),
        ("545a47f3a8e9fe556e66c93ad24d68914d0283c6-dirty", "545a47f-dirty"),
        ("unknown", "unknown"),
        (None, "unknown"),
        (12345, "unknown"),
        ("545a47f; rm -rf /", "unknown"),
    ],
)
def test_a_report_quotes_a_commit_with_its_dirty_mark(recorded, quoted):
    """Reports quote commits through one function: a run made from a changed checkout says so (docs and the
    speed card used to cut '-dirty' off with [:7] / [:12])."""
    assert records.short_commit(recorded, 7) == quoted
    sha, dirty = records.commit_of(recorded)
    assert (sha is None) == (quoted == "unknown") and dirty == quoted.endswith("-dirty")


def test_no_report_slices_a_recorded_commit_itself():
    import re

    pattern = re.compile(r"""(git_commit|commit)['"]\]\)?\s*\[:\d+\]|str\(\w+\[['"]commit['"]\]\)\[:""")
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for folder in ("minrnn", "scripts", "tasks", "baselines")
        for p in sorted((ROOT / folder).rglob("*.py"))
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, "quote commits with minrnn.formats.short_commit:\n" + "\n".join(found)
    assert pattern.search("x = p['git_commit'][:7]") and pattern.search("str(t['commit'])[:7]")
