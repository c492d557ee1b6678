"""Results files are untrusted input (minrnn.reports.runs.load_runs): the table, figure and claims
scripts accept only summaries that match the schema the harness writes, with a config that hashes to its
identity, count a config and seed once, and read only regular files of bounded size; every other file
is listed with its reason, never a crash."""

import json
import os

from harness import write_summary

from minrnn.harness.config import identity, run_identity
from minrnn.reports import runs as reporting

PRESET = ["experiment=table2/mingru"]


def folder_with_one_run(tmp_path, acc=0.9):
    path = write_summary(tmp_path, PRESET, {"test_acc": acc, "steps": 10, "best_step": 10}, seed=0)
    return path.parent, path


def loaded(folder):
    runs, bad = reporting.load_runs(folder, "cpu", "test_acc")
    return [os.path.basename(r["_file"]) for r in runs], " ".join(bad)


def test_a_copy_of_a_seed_is_not_another_seed(tmp_path):
    folder, path = folder_with_one_run(tmp_path)
    (folder / "copy-of-seed-0.json").write_bytes(path.read_bytes())
    runs, bad = loaded(folder)
    assert runs == [path.name] and "the same config and seed as" in bad


def test_a_config_edited_by_hand_with_its_hash_kept_is_rejected(tmp_path):
    folder, path = folder_with_one_run(tmp_path)
    rec = json.loads(path.read_text())
    rec["config"]["trainer"]["lr"] = 0.5
    path.write_text(json.dumps(rec))
    runs, bad = loaded(folder)
    assert runs == [] and "hashes to" in bad and "edited by hand" in bad


def test_a_boolean_or_out_of_range_accuracy_is_not_a_number(tmp_path):
    folder, path = folder_with_one_run(tmp_path, acc=True)
    # refused by the reader's RESULT schema (every metric typed), before the table's own check
    assert loaded(folder) == ([], f"{path}: metrics.test_acc: is bool True, not a number (minrnn.result/1)")
    folder, path = folder_with_one_run(tmp_path / "b", acc=1.7)
    assert "outside [0, 1]" in loaded(folder)[1]


def test_wrong_types_links_folders_and_huge_files_are_listed_not_read(tmp_path):
    folder, path = folder_with_one_run(tmp_path)
    rec = json.loads(path.read_text())
    (folder / "seed-string.json").write_text(json.dumps({**rec, "seed": "0"}))
    (folder / "list.json").write_text("[1, 2]")
    (folder / "link.json").symlink_to(path)
    (folder / "dir.json").mkdir()
    (folder / "huge.json").write_bytes(b" " * (reporting.MAX_RESULT_BYTES + 1))
    runs, bad = loaded(folder)
    assert runs == [path.name]
    for why in ("seed: is str '0', not an integer", "is list, not an object", "a folder, not a regular file"):
        assert why in bad, why
    assert f"more than the {reporting.MAX_RESULT_BYTES} such a file may have" in bad
    assert "link.json: the same config and seed as" in bad  # a link inside the folder: read, counted once


def test_every_committed_result_hashes_to_its_identity():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "results"
    checked = 0
    for folder in {p.parent for p in root.rglob("*.json")}:
        for f in folder.glob("*.json"):
            rec = json.loads(f.read_text())
            if isinstance(rec, dict) and {"config", "metrics", "scale"} <= rec.keys():
                assert run_identity(rec, f) == identity(rec["config"]), f
                checked += 1
    assert checked > 150
