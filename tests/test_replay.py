"""Exact replay (issue 35): a committed run retrained from its stored config and seed equals its metrics."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from minrnn.harness.replay import compare, replay

ROOT = Path(__file__).resolve().parent.parent
SHORT = ROOT / "results/mqar/L64-P4/cpu/mingru-w32-lr0.003-L2-s0-3b1958de.json"  # ~25 s on one core


def test_a_committed_run_replays_bit_exact(tmp_path):
    result = replay(SHORT, tmp_path)
    committed, replayed = json.loads(SHORT.read_text()), json.loads(result.replayed.read_text())
    assert replayed["identity"] == committed["identity"] and replayed["seed"] == committed["seed"]
    # bit-exact on the same CPU type and versions; elsewhere the report must say what differs
    assert result.exact or result.environment, result.report()
    if not result.environment:
        assert result.exact, result.report()
        assert replayed["metrics"]["val_history"] == committed["metrics"]["val_history"]


def summary(**metrics):
    base = {"test_acc": 0.5, "val_history": [[100, 0.25]], "train_seconds_this_session": 1.0, "stretches": [1]}
    return {"metrics": {**base, **metrics}, "provenance": {"torch": "2.13.0+cpu", "device_name": "AMD EPYC"}}


def test_every_metric_but_times_is_compared_and_the_environment_named():
    assert compare(summary(), summary(train_seconds_this_session=9.0, stretches=[4, 5])) == ([], [])
    other = summary(val_history=[[100, 0.2500001]])
    other["provenance"]["torch"] = "2.14.1+cpu"
    differences, environment = compare(summary(), other)
    assert differences == ["val_history[0][1]: 0.25 -> 0.2500001"]
    assert environment == ["torch '2.13.0+cpu' vs '2.14.1+cpu'"]


def test_a_config_that_no_longer_hashes_to_its_identity_is_refused(tmp_path):
    rec = json.loads(SHORT.read_text())
    rec["config"]["trainer"]["lr"] = 0.1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(rec))
    with pytest.raises(ValueError, match="hashes to"):
        replay(bad, tmp_path / "scratch")
    assert not (tmp_path / "scratch").exists()


@pytest.mark.parametrize("content", [None, "{", "[]", '{"config": {}}'])
def test_the_command_says_what_is_wrong_with_its_argument(tmp_path, content):
    arg = tmp_path / "run.json"
    if content is not None:
        arg.write_text(content)
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts/replay.py"), str(arg), "--scratch", str(tmp_path / "s")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and out.stderr.startswith("replay: error: ") and "Traceback" not in out.stderr
