"""minrnn.reports.preregistration and its runner (minrnn.reports.referee_runs): the statistics against known values,
the file's checks, and which pre-registered runs are left to do (a synthetic results folder, no training)."""

import copy
import math
from pathlib import Path

import pytest
import yaml
from cli import call
from harness import write_summary

from minrnn.reports import referee_runs
from minrnn.reports.preregistration import (
    PREREGISTRATION,
    fisher_exact,
    load,
    mean_above,
    mean_difference,
    ordered_runs,
    parse,
    plan,
    still_improving,
    wilson_interval,
)

ROOT = Path(__file__).resolve().parent.parent


def test_wilson_interval_equals_the_closed_form():
    lo, hi = wilson_interval(8, 10)
    z = 1.959963984540054  # the 97.5% normal quantile
    centre, half = (0.8 + z * z / 20) / (1 + z * z / 10), z / (1 + z * z / 10) * math.sqrt(0.016 + z * z / 400)
    assert (lo, hi) == pytest.approx((centre - half, centre + half), abs=1e-12)
    assert (lo, hi) == pytest.approx((0.4902, 0.9433), abs=1e-4)  # the published value for 8/10
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
    assert wilson_interval(3, 3)[0] == pytest.approx(3 / (3 + z * z), abs=1e-12)  # k = n: n / (n + z^2)
    with pytest.raises(ValueError, match="0 <= k <= n"):
        wilson_interval(4, 3)


def test_fisher_exact_against_hand_computed_tables():
    # the lady tasting tea, 3 of 4 right: tables a=3 (16/70) and a=1 (16/70) and beyond (1/70 each)
    assert fisher_exact(((3, 1), (1, 3))) == pytest.approx(34 / 70, abs=1e-12)
    # 10 of 10 against 0 of 10: only this table and its mirror, each 1 / C(20, 10)
    assert fisher_exact(((10, 0), (0, 10))) == pytest.approx(2 / math.comb(20, 10), abs=1e-15)
    # 8 of 8 against 5 of 8: margins 13/3; P(a=8) = C(13,8) C(3,0) / C(16,8) = 1287/12870 = 0.1, and
    # a=5 is as unlikely (C(13,5) C(3,3) = 1287): p = 0.2
    assert fisher_exact(((8, 0), (5, 3))) == pytest.approx(0.2, abs=1e-12)
    assert fisher_exact(((2, 2), (2, 2))) == 1.0


def test_difference_of_means_and_mean_above_chance():
    diff, two_se = mean_difference([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    assert diff == pytest.approx(1.0) and two_se == pytest.approx(2 * math.sqrt(1 / 3))
    above, two_se = mean_above([0.6, 0.7, 0.8, 0.9], 0.5)
    assert above == pytest.approx(0.25) and two_se == pytest.approx(2 * math.sqrt(1 / 60) / 2)
    with pytest.raises(ValueError, match=">= 2 seeds"):
        mean_difference([1.0], [1.0, 2.0])


def test_the_budget_rule_uses_the_arms_own_spread():
    rising = [[0.5, 0.6, 0.7], [0.5, 0.62, 0.72]]  # +0.2 over the last two evaluations, spread 0.014
    assert still_improving(rising, last=2)
    flat = [[0.7, 0.7, 0.71], [0.7, 0.69, 0.7]]
    assert not still_improving(flat, last=2)
    noisy = [[0.1, 0.2, 0.3], [0.5, 0.6, 0.9]]  # rises 0.3 on average, but the seeds end 0.6 apart
    assert not still_improving(noisy, last=2)
    assert still_improving([[0.5, 0.52, 0.6]], last=2)  # one seed: min_spread 0.01
    assert not still_improving([[0.5, 0.6]], last=2)  # too short to tell


def test_the_committed_file_loads_and_lists_the_verdicts_most_decisive_first():
    prereg = load(ROOT / PREREGISTRATION)
    assert [v.id for v in prereg.verdicts][0] == "recall-4-pairs"
    assert prereg.threads == 1 and prereg.alpha == 0.05
    runs = ordered_runs(prereg)
    first = [(r.arm, r.seed) for r in runs[:7]]  # every arm's seed 0 before any arm's seed 1
    assert [s for _, s in first] == [0] * 6 + [1]


DOC = yaml.safe_load((ROOT / PREREGISTRATION).read_text())


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(extra=1), r"preregistration\.extra: unknown key"),
        (lambda d: d.update(alpha="0.05"), r"preregistration\.alpha: expected number"),
        (lambda d: d["verdicts"][0].pop("arms"), r"verdicts\[0\]\.arms: missing"),
        (lambda d: d["verdicts"][1]["arms"][0].update(seeds=[0, "1"]), r"verdicts\[1\]\.arms\[0\]\.seeds: expected"),
        (lambda d: d["verdicts"][0]["arms"][0].update(colour=1), r"arms\[0\]\.colour: unknown key"),
        (lambda d: d["verdicts"][0]["arms"][0]["overrides"].append("seed=3"), r"'seed=3': the runner sets it"),
        (lambda d: d["verdicts"][0].update(test="t-test"), r"verdicts\[0\]\.test: 't-test' is not one of"),
        (lambda d: d["verdicts"][0].pop("bar"), r"verdicts\[0\]\.bar: missing"),
        (lambda d: d["verdicts"][0]["comparisons"].append(["a", "b"]), r"comparisons\[5\]: expected \[arm, arm\]"),
        (lambda d: d["budget_rule"].update(last_evaluations=True), r"budget_rule\.last_evaluations: expected int"),
    ],
)
def test_a_wrong_file_is_one_value_error_naming_the_key(edit, message):
    doc = copy.deepcopy(DOC)
    edit(doc)
    with pytest.raises(ValueError, match=message):
        parse(doc)


def small(tmp_path: Path) -> Path:
    """A pre-registration of two Chomsky arms, three seeds, the second arm also in a second verdict."""
    arm = {"name": "a", "overrides": ["experiment=table4/mingru", "task.problem=even_pairs"], "seeds": [0, 1, 2]}
    other = {"name": "b", "overrides": ["experiment=table4/minlstm", "task.problem=even_pairs"], "seeds": [0, 1]}
    verdict = {k: DOC["verdicts"][3][k] for k in ("claim", "folder", "question", "metrics", "test", "outcomes")}
    doc = {k: DOC[k] for k in ("version", "scale", "threads", "budget_core_hours", "alpha", "confidence")}
    doc |= {"budget_rule": DOC["budget_rule"]}
    doc["verdicts"] = [
        verdict | {"id": "v2", "priority": 2, "arms": [other], "comparisons": []},
        verdict | {"id": "v1", "priority": 1, "arms": [arm, other], "comparisons": [["a", "b"]]},
    ]
    path = tmp_path / "prereg.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_runs_in_results_are_skipped_by_identity_and_seed(tmp_path):
    path, results = small(tmp_path), tmp_path / "results"
    metrics = {"test_acc": 1.0, "steps": 6000}
    write_summary(results, ["experiment=table4/mingru", "task.problem=even_pairs"], metrics, seed=1)
    write_summary(results, ["experiment=table4/minlstm", "task.problem=even_pairs"], metrics, seed=0)
    # another config (another step budget) of arm a's seed 0 is not its result
    write_summary(results, ["experiment=table4/mingru", "task.problem=even_pairs", "trainer.max_steps=10"], metrics)
    runs = plan(load(path), results)
    assert [(r.verdict, r.arm, r.seed, r.done) for r in runs] == [
        ("v1", "a", 0, False),
        ("v1", "b", 0, True),
        ("v1", "a", 1, True),
        ("v1", "b", 1, False),
        ("v1", "a", 2, False),
    ]  # v2's arm b is v1's: listed once
    assert runs[0].run_name.startswith("chomsky/even_pairs/cpu/mingru-L2-s0-")
    assert runs[0].estimate_s == 60.0 and runs[1].estimate_s == 60.0  # the committed runs' time (wall_seconds)


def test_the_dry_run_lists_what_is_left_and_runs_nothing(tmp_path, capsys):
    path, results = small(tmp_path), tmp_path / "results"
    write_summary(results, ["experiment=table4/mingru", "task.problem=even_pairs"], {"test_acc": 1.0}, seed=0)
    assert call(referee_runs, ["--file", str(path), "--results", str(results), "--dry-run"]) == 0
    out = capsys.readouterr().out
    head, *lines = out.strip().splitlines()
    # arm a: 2 runs at its committed run's 60 s; arm b: 2 at the 600 s default
    assert head.startswith("5 pre-registered runs, 1 done, 4 to run: about 0.37 h")
    assert len(lines) == 4 and " b " in lines[0] and "seed 0" in lines[0] and "(no committed run)" in lines[0]
    assert not (tmp_path / "runs").exists() and len(list(results.rglob("*.json"))) == 1


def test_a_broken_file_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "p.yaml"
    bad.write_text("version: [1\n")
    assert call(referee_runs, ["--file", str(bad), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("run_preregistered: error: ") and len(err.strip().splitlines()) == 1
