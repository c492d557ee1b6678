"""Exact replay (issue 35): a committed run retrained from its stored config and seed equals its metrics."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import minrnn.harness.train
from minrnn.harness.replay import compare, flatten, replay
from minrnn.reader import read_json

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


COMMITTED = json.loads(SHORT.read_text())
PLACES = sorted(flatten(COMMITTED["metrics"]))  # every metric value of a committed run: "a.b[2]"
NOT_A_NUMBER = st.sampled_from(["0.5", [0.5], {"x": 1}, True, None])


def replace(metrics: dict, place: str, value) -> dict:
    """``metrics`` with the value at ``place`` (a key of flatten's) replaced."""
    out = json.loads(json.dumps(metrics))
    node, *path = place.replace("]", "").replace("[", ".").split(".")
    parent, key = out, node
    for part in path:
        parent, key = parent[key], int(part) if part.isdigit() else part
    parent[key] = value
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(place=st.sampled_from(PLACES), value=NOT_A_NUMBER)
def test_a_summary_whose_metrics_have_wrong_types_is_refused_before_training(tmp_path, monkeypatch, place, value):
    """The reader's RESULT schema types every metric: a wrong type is refused before any training."""
    rec = {**COMMITTED, "metrics": replace(COMMITTED["metrics"], place, value)}
    was = flatten(COMMITTED["metrics"])[place]
    # a string where a string belongs (stop_reason, precision, a commit) is right, and so is no commit
    assume(not (isinstance(was, str) and isinstance(value, str)) and not (place.endswith(".commit") and value is None))
    bad = tmp_path / f"{abs(hash((place, repr(value))))}.json"
    bad.write_text(json.dumps(rec))

    def trained(cfg):
        raise AssertionError("trained")

    monkeypatch.setattr(minrnn.harness.train, "run", trained)
    with pytest.raises(ValueError, match=rf"metrics\.{place.split('[')[0].split('.')[0]}"):
        replay(bad, tmp_path / "scratch")


def test_the_command_refuses_wrong_metric_types_in_one_line(tmp_path):
    rec = {**COMMITTED, "metrics": {**COMMITTED["metrics"], "test_acc": "0.9"}}
    (tmp_path / "run.json").write_text(json.dumps(rec))
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts/replay.py"), str(tmp_path / "run.json"), "--scratch", str(tmp_path / "s")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "metrics.test_acc: is str '0.9', not a number" in out.stderr and not (tmp_path / "s").exists()


def tampered(change) -> dict:
    rec = json.loads(json.dumps(COMMITTED))
    change(rec)
    return rec


HOSTILE = {  # a summary that is not one committed run: (how, what the one line says)
    "its seed is not its config's": (lambda r: r.update(seed=7), "seed 7, but its config's seed is 0"),
    "paths is a string": (lambda r: r["config"].update(paths="x"), "no longer takes its stored config: unknown key"),
    "a key the schema does not know": (lambda r: r["config"]["trainer"].update(amps=True), "unknown key trainer.amps"),
    "amp false (never committed)": (lambda r: r["config"]["trainer"].update(amp=False), "unknown key trainer.amp"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_tampered_summary_is_one_line_before_training(tmp_path, monkeypatch, case):
    change, says = HOSTILE[case]
    rec = tampered(change)
    rec["identity"] = minrnn.harness.replay.identity(rec["config"])  # tampered consistently: the identity passes
    (tmp_path / "run.json").write_text(json.dumps(rec))
    monkeypatch.setattr(minrnn.harness.train, "run", lambda cfg: pytest.fail("trained"))
    with pytest.raises(ValueError, match=re.escape(says)):
        replay(tmp_path / "run.json", tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_a_config_without_paths_trains_in_the_scratch_folder(tmp_path, monkeypatch):
    rec = tampered(lambda r: r["config"].pop("paths"))
    (tmp_path / "run.json").write_text(json.dumps(rec))
    seen = {}
    monkeypatch.setattr(minrnn.harness.train, "run", lambda cfg: seen.update(cfg=cfg) or COMMITTED)
    assert replay(tmp_path / "run.json", tmp_path / "s").exact
    assert seen["cfg"].paths.results == str(tmp_path / "s" / "results") and seen["cfg"].logger.mode == "disabled"


@pytest.mark.parametrize("where", ["the repository (its results/ holds the run)", "results/"])
def test_a_scratch_folder_that_holds_results_or_lies_among_them_is_refused(tmp_path, monkeypatch, where):
    """--scratch . made paths.results the committed results/: the run was skipped as finished and the
    replay said bit-exact without training; --scratch results/x wrote a run among the committed ones."""
    scratch = ROOT if where.startswith("the repository") else ROOT / "results" / "replay-scratch-test"
    monkeypatch.setattr(minrnn.harness.train, "run", lambda cfg: pytest.fail("trained"))
    with pytest.raises(ValueError, match="--scratch"):
        replay(SHORT, scratch)
    assert not (ROOT / "results" / "replay-scratch-test").exists()
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts/replay.py"), str(SHORT), "--scratch", str(scratch)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "--scratch" in out.stderr, out.stderr


def committed_summaries(every: bool = False) -> list[Path]:
    """The committed run summaries that carry an identity (``every``: those committed before too)."""
    out = []
    for path in sorted((ROOT / "results").rglob("*.json")):
        rec = read_json(path)
        if isinstance(rec, dict) and {"config", "seed", "metrics"} <= rec.keys() and (every or "identity" in rec):
            out.append(path)
    return out


def test_every_committed_run_is_taken_by_this_code_with_its_identity():
    """Each committed summary's stored config, with the settings renamed since (trainer.amp: true ->
    trainer.precision: auto), passes the schema and keeps its identity: make replay can rerun any of them
    (14 were committed with amp and were refused before)."""
    from minrnn.harness.config import as_current, identity
    from minrnn.harness.schema import check

    paths = committed_summaries()
    assert len(paths) >= 200
    renamed = 0
    for path in paths:
        rec = read_json(path)
        config = as_current(rec["config"])
        renamed += config is not rec["config"]
        assert identity(config) == identity(rec["config"]) == rec["identity"], path
        check(config, here=False)
    assert renamed >= 14


def test_a_replay_that_differs_names_both_commits_beside_the_environment():
    from minrnn.harness.replay import Replay

    differs = Replay(Path("c.json"), Path("r.json"), ["val_acc: 0.5 -> 0.6"], [], ("61bf8b02cbff", "1f0375d00000"))
    report = differs.report()
    assert "this is a reproducibility failure" in report
    assert report.endswith("code: committed at 61bf8b02cbff, replayed at 1f0375d00000 (git diff names changes)")
    same = Replay(Path("c.json"), Path("r.json"), ["val_acc: 0.5 -> 0.6"], [], ("61bf8b02cbff", "61bf8b02cbff"))
    assert "code:" not in same.report()
    assert "code:" not in Replay(Path("c.json"), Path("r.json"), [], [], ("a", "b")).report()  # bit-exact


def test_a_run_committed_before_identities_names_the_commit_to_replay_it_with(tmp_path, monkeypatch):
    """135 committed summaries predate run identities (48269b5) and use settings since renamed: replay
    says so in one line with the commit whose code reads them, and trains nothing."""
    old = [p for p in committed_summaries(every=True) if "identity" not in read_json(p)]
    assert len(old) >= 100
    commit = read_json(old[0])["provenance"]["git_commit"]
    monkeypatch.setattr(minrnn.harness.train, "run", lambda cfg: pytest.fail("trained"))
    with pytest.raises(
        ValueError, match=re.escape(f"replay it with the code it came from: git worktree add <folder> {commit}")
    ):
        replay(old[0], tmp_path / "s")
    assert not (tmp_path / "s").exists()


RECORDED = {  # provenance.git_commit as committed (records.git_commit) -> what the refusal tells
    "-dirty (7 committed before identities)": (
        "056133ad71956bc8def8422360c39e155f694bd5-dirty",
        "git worktree add <folder> 056133ad71956bc8def8422360c39e155f694bd5 (it ran with changes to that commit",
    ),
    "unknown (an installed copy)": ("unknown", "records no commit (provenance.git_commit 'unknown')"),
    "null": (None, "records no commit (provenance.git_commit None): replay it with the code of its date, 2026-"),
}


@pytest.mark.parametrize("case", list(RECORDED))
def test_a_run_before_identities_whose_commit_is_dirty_or_unknown_is_told_a_command_git_takes(
    tmp_path, monkeypatch, case
):
    """'git worktree add <folder> <sha>-dirty' (7 committed summaries) or '... unknown' is no command git
    takes: the refusal names the commit itself and what it lacks, or that none is recorded."""
    value, says = RECORDED[case]
    old = [p for p in committed_summaries(every=True) if "identity" not in read_json(p)]
    rec = read_json(old[0])
    rec["provenance"]["git_commit"] = value
    (tmp_path / "run.json").write_text(json.dumps(rec))
    monkeypatch.setattr(minrnn.harness.train, "run", lambda cfg: pytest.fail("trained"))
    with pytest.raises(ValueError, match=re.escape(says)) as refused:
        replay(tmp_path / "run.json", tmp_path / "s")
    assert "-dirty" not in str(refused.value).split("git worktree add <folder> ")[-1].split(" ")[0]


SHA = st.text("0123456789abcdef", min_size=40, max_size=40)


@settings(max_examples=50, deadline=None)
@given(a=SHA, b=SHA, dirty=st.tuples(st.booleans(), st.booleans()))
def test_a_replay_that_differs_names_both_commits_unless_they_are_one_clean_commit(a, b, dirty):
    """Every pair of recorded commits: the report names both unless both are the same commit with no
    uncommitted changes; '-dirty' is shown (cut to 12 digits it was lost: a run committed from a changed
    checkout and replayed at its clean commit was said to be the same code)."""
    from minrnn.harness.replay import Replay

    recorded = [c + ("-dirty" if d else "") for c, d in zip((a, b), dirty, strict=True)]
    report = Replay(Path("c.json"), Path("r.json"), ["val_acc: 0.5 -> 0.6"], [], tuple(recorded)).report()
    shown = [c[:12] + ("-dirty" if d else "") for c, d in zip((a, b), dirty, strict=True)]
    if a == b and not any(dirty):
        assert "code:" not in report
    else:
        assert report.endswith(f"code: committed at {shown[0]}, replayed at {shown[1]} (git diff names changes)")
    unknown = Replay(Path("c.json"), Path("r.json"), ["x: 1 -> 2"], [], ("unknown", None)).report()
    assert unknown.endswith("code: committed at unknown, replayed at unknown (git diff names changes)")
