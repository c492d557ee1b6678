import json
import os

import pytest

from minrnn.harness import records


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
