"""minrnn.reports.prereg_decide: the pre-registered outcomes, each branch hit by synthetic runs, and the claims
rows they decide once a matrix is complete (and not before)."""

import copy
import hashlib
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from harness import write_summary

from minrnn.reader import read_json
from minrnn.reports import prereg_decide as pd
from minrnn.reports.claims.machinery import BUDGET, FAILS, HOLDS, INCONCLUSIVE, PARTLY
from minrnn.reports.preregistration import PREREGISTRATION, load, parse

ROOT = Path(__file__).resolve().parent.parent
PREREG = load(ROOT / PREREGISTRATION)
V = {v.id: v for v in PREREG.verdicts}


def run(acc: float, seed: int = 0, curve=None, stop: str = "max_steps", budget: int = 1000) -> dict:
    """A synthetic summary: test accuracy, a validation curve (flat at acc unless given), its stop reason."""
    curve = curve or [acc] * 4
    hist = [{"step": (i + 1) * budget // len(curve), "val_acc": c} for i, c in enumerate(curve)]
    metrics = {"test_acc": acc, "val_history": hist, "stop_reason": stop}
    return {"seed": seed, "metrics": metrics, "config": {"trainer": {"max_steps": budget}}}


def arms_of(verdict, accs: dict[str, list[float]], **kw) -> dict[str, list[dict]]:
    return {a.name: [run(x, s, **kw) for s, x in enumerate(accs.get(a.name, []))] for a in verdict.arms}


def test_val_acc_area_carries_the_last_value_to_the_budget():
    r = run(0.0, curve=[0.2, 0.6], budget=1000)  # evaluations at 500 and 1000
    assert pd.val_acc_area(r) == pytest.approx((0.2 * 500 + 0.6 * 500) / 1000)
    solved = {"metrics": {"val_history": [{"step": 100, "val_acc": 0.5}, {"step": 200, "val_acc": 1.0}]},
              "config": {"trainer": {"max_steps": 1000}}}  # fmt: skip
    assert pd.val_acc_area(solved) == pytest.approx((0.5 * 100 + 1.0 * 900) / 1000)  # stopped early: 1.0 carried
    assert pd.value(solved, "val_acc_last") == 1.0


@pytest.mark.parametrize(
    "transformer, mamba, outcome",
    [
        ([1.0] * 8, [0.5] * 8, HOLDS),  # 8/8 against 0/8: p = 1.6e-4
        ([0.5] * 8, [1.0] * 8, FAILS),
        ([1.0] * 8, [1.0] * 6 + [0.5] * 2, INCONCLUSIVE),  # 8/8 against 6/8: p = 0.47
    ],
)
def test_recall_is_decided_by_fishers_test_on_the_deciding_pair(transformer, mamba, outcome):
    v = V["recall-4-pairs"]
    arms = arms_of(v, {a.name: [0.3] * 8 for a in v.arms} | {"transformer-w128": transformer, "mamba-w128": mamba})
    got, why, stats = pd.recall(PREREG, v, arms)
    assert got == outcome and "Fisher p" in why
    assert set(stats["comparisons"]) == {f"{a} vs {b}" for a, b in v.comparisons}


def chomsky(regular: float, counting: float, jitter: float = 0.01) -> dict:
    v = V["chomsky-regular"]
    return {a.name: [run((regular if a.name in v.chance else counting) + jitter * (s % 2), s) for s in range(8)]
            for a in v.arms}  # fmt: skip


@pytest.mark.parametrize(
    "arms, outcome",
    [
        (chomsky(0.95, 0.6), HOLDS),
        (chomsky(0.95, 0.97), FAILS),  # handled, but counting is not harder
        (chomsky(0.1, 0.1), FAILS),  # nothing above chance
    ],
)
def test_chomsky_regular_against_counting(arms, outcome):
    assert pd.chomsky(PREREG, V["chomsky-regular"], arms)[0] == outcome


def test_chomsky_partly_when_one_regular_task_fails():
    v, arms = V["chomsky-regular"], chomsky(0.95, 0.6)
    arms["mingru-cycle_nav"] = [run(0.2 - 0.01 * (s % 2), s) for s in range(8)]  # at chance (0.2)
    got, why, stats = pd.chomsky(PREREG, v, arms)
    assert got == PARTLY and why.startswith("5 of 6 regular tasks above chance")
    assert not stats["arms"]["mingru-cycle_nav"]["handled"]


@pytest.mark.parametrize(
    "plain, full, outcome", [([0.3, 0.31] * 3, [0.4, 0.41] * 3, HOLDS), ([0.4, 0.41] * 3, [0.3, 0.31] * 3, FAILS),
                             ([0.3, 0.4] * 3, [0.31, 0.41] * 3, INCONCLUSIVE)],
)  # fmt: skip
def test_table6_difference_of_means_against_two_standard_errors(plain, full, outcome):
    v = V["table6-ablation"]
    assert pd.means(PREREG, v, arms_of(v, {"plain": plain, "conv_mlp": full}))[0] == outcome


@pytest.mark.parametrize(
    "long, gru, outcome",
    [([1.0] * 5, [1.0] * 5, HOLDS), ([1.0] * 5, [0.5] * 5, PARTLY), ([0.5] * 5, [0.5] * 5, FAILS),
     ([1.0] * 3 + [0.5] * 2, [0.5] * 5, INCONCLUSIVE)],
)  # fmt: skip
def test_table2_fit_rates_by_wilson_interval(long, gru, outcome):
    v = V["table2-minlstm"]
    assert pd.fit_rates(PREREG, v, arms_of(v, {"minlstm-long": long, "mingru": gru}))[0] == outcome


def figure5(copy_order, listops_order, why=False):
    """Both Figure 5 tasks decided from per-bias levels (larger = learns earlier)."""
    out = {}
    for vid, levels in (("figure5-copy", copy_order), ("figure5-listops", listops_order)):
        v = V[vid]
        arms = {a.name: [run(levels[a.name] + 0.01 * (s % 2), s) for s in range(len(a.seeds))] for a in v.arms}
        out[vid] = {"stats": pd.means(PREREG, v, arms)[2]}
    return pd.figure5(out) if why else pd.figure5(out)[0]


def test_figure5_both_tasks_decide_together():
    up, flat, down = {"bias0": 0.3, "bias3": 0.5, "bias5": 0.7}, {"bias0": 0.5, "bias3": 0.5, "bias5": 0.5}, None
    down = {"bias0": 0.7, "bias3": 0.5, "bias5": 0.3}
    assert figure5(up, up) == HOLDS
    assert figure5(up, flat) == PARTLY
    assert figure5(down, flat) == FAILS
    assert figure5(flat, flat) == INCONCLUSIVE
    # the reason names each decisive comparison: task, metric, bias 5 - bias 0 and its two standard errors
    outcome, why = figure5(down, flat, why=True)
    assert outcome == FAILS
    assert why.startswith("bias 0 ahead of bias 5 (bias 5 - bias 0): figure5-copy val_acc_area -0.400")
    assert "figure5-copy val_acc_last -0.400" in why and "listops" not in why
    outcome, why = figure5(flat, up, why=True)
    assert outcome == PARTLY and "figure5-listops val_acc_last +0.400 (2 SE " in why and "copy" not in why


def small(tmp_path: Path, seeds=(0, 1)) -> Path:
    """The table6 verdict cut to two seeds per arm, in tmp_path/results/preregistration/."""
    doc = yaml.safe_load((ROOT / PREREGISTRATION).read_text())
    doc["verdicts"] = [copy.deepcopy(v) for v in doc["verdicts"] if v["id"] == "table6-ablation"]
    for arm in doc["verdicts"][0]["arms"]:
        arm["seeds"] = list(seeds)
    parse(doc)
    path = tmp_path / "results" / "preregistration" / "preregistration.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(doc))
    return path


def summaries(results: Path, arm: str, accs: list[float], rising: bool = False) -> None:
    overrides = {"plain": ["experiment=table6/minlstm_plain"], "conv_mlp": ["experiment=table4/lra_minlstm"]}[arm]
    for seed, acc in enumerate(accs):
        curve = [acc - 0.3, acc - 0.15, acc] if rising else [acc] * 3
        hist = [{"step": 100 * (i + 1), "val_acc": c} for i, c in enumerate(curve)]
        write_summary(results, overrides, {"test_acc": acc, "val_history": hist, "stop_reason": "max_steps"}, seed)


def test_a_matrix_is_pending_until_complete_then_decides_its_claim_row(tmp_path):
    path = small(tmp_path)
    results = path.parent.parent
    summaries(results, "plain", [0.30, 0.31])
    rows = [{"id": "table6-ablation", "verdict": INCONCLUSIVE, "ours": "n=3."}]
    out = pd.with_preregistered(copy.deepcopy(rows), results, tmp_path / "out", "cpu")
    assert out[0]["verdict"] == INCONCLUSIVE  # pending: the row keeps its own rules' verdict
    assert out[0]["preregistered_outcomes"] == {"table6-ablation": "pending (2 of 4 runs)"}
    summaries(results, "conv_mlp", [0.40, 0.41])
    out = pd.with_preregistered(copy.deepcopy(rows), results, tmp_path / "out", "cpu")
    assert out[0]["verdict"] == HOLDS and "Pre-registered: table6-ablation: conv_mlp - plain: +0.1000" in out[0]["ours"]
    written = (tmp_path / "out" / "preregistration" / "verdicts_cpu.md").read_text()
    assert "| table6-ablation | table6-ablation | 4 of 4 | **holds** |" in written


def test_budget_limited_replaces_an_outcome_other_than_holds_while_an_arm_still_improves(tmp_path):
    path = small(tmp_path)
    results = path.parent.parent
    summaries(results, "plain", [0.30, 0.31], rising=True)
    summaries(results, "conv_mlp", [0.30, 0.32], rising=True)
    (row,) = pd.decide(load(path), results)
    assert row["outcome"] == BUDGET and "inconclusive while an arm it rests on is still improving" in row["why"]
    assert row["stats"]["still_improving"] == ["conv_mlp", "plain"]


@pytest.mark.parametrize(
    "curve, why",
    [
        ([(100, 0.3), (200, float("nan"))], "val_acc is nan"),  # NaN passed every comparison: a mean of NaN
        ([(100, 0.3), (200, 50.0)], "val_acc is 50.0"),  # an area of 35: "holds" against any arm
        ([(100, -0.2), (200, 0.3)], "val_acc is -0.2"),
        ([(200, 0.3), (100, 0.9)], "steps go backwards"),  # a negative weight in the area
    ],
)
def test_a_planted_validation_curve_is_listed_not_decided_on(tmp_path, curve, why):
    """The deciding metrics val_acc_area / val_acc_last and 'still improving' read val_history, which
    load_runs did not check (only the folder's key metric): the file is listed and not counted."""
    from minrnn.reports.runs import load_runs

    path = small(tmp_path)
    results = path.parent.parent
    summaries(results, "plain", [0.30])
    hist = [{"step": s, "val_acc": a} for s, a in curve]
    metrics = {"test_acc": 0.31, "val_history": hist, "stop_reason": "max_steps"}
    planted = write_summary(results, ["experiment=table6/minlstm_plain"], metrics, seed=1)
    runs, bad = load_runs(planted.parent, "cpu", "test_acc")
    assert [r["seed"] for r in runs] == [0]
    assert len(bad) == 1 and bad[0].startswith(str(planted)) and why in bad[0]


def test_the_decided_verdicts_record_the_hash_of_the_committed_preregistration():
    """results/preregistration/verdicts_cpu.json was decided under the committed pre-registration: an edit
    to the rules after the decision (a bar, a seed, an outcome) breaks the equality until `make claims`
    decides again, and then the git check below sees when the rules last changed."""
    decided = read_json(ROOT / "results/preregistration/verdicts_cpu.json")
    assert decided["preregistration_sha256"] == pd.file_sha256(ROOT / PREREGISTRATION)
    assert pd.file_sha256(ROOT / PREREGISTRATION) != hashlib.sha256(b"").hexdigest()


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()


def test_the_preregistration_is_unchanged_since_before_the_first_run_it_governs():
    """git history: the pre-registration's last change (author date, kept by a rebase) is before the first
    of the runs made under it (provenance.date after the file was first committed). Not a git checkout
    (an sdist): nothing to check against; CI runs on a full clone, where it is asserted."""
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse"], capture_output=True).returncode:
        pytest.skip("not a git checkout")
    assert _git("rev-parse", "--is-shallow-repository") == "false", "a shallow clone hides the history"
    dates = _git("log", "--follow", "--format=%aI", "--", str(PREREGISTRATION)).splitlines()
    first, last = datetime.fromisoformat(dates[-1]), datetime.fromisoformat(dates[0])
    arms, _, _ = pd.arm_runs(load(ROOT / PREREGISTRATION), ROOT / "results")
    made = [r["provenance"]["date"] for v in arms.values() for rs in v.values() for r in rs]
    governed = sorted(datetime.fromisoformat(d) for d in made if datetime.fromisoformat(d) > first)
    assert governed, "no run was made under the pre-registration"
    assert last <= governed[0], f"preregistration.yaml changed on {last}, after its first governed run ({governed[0]})"


def test_a_verdict_whose_claim_does_not_exist_is_refused_before_anything_is_written(tmp_path):
    path = small(tmp_path)
    rows = [{"id": "table6-ablation-typo", "verdict": INCONCLUSIVE, "ours": "n=3."}]
    with pytest.raises(ValueError, match=r"verdict table6-ablation: claim 'table6-ablation' is not a claim of"):
        pd.with_preregistered(rows, path.parent.parent, tmp_path / "out", "cpu")
    assert not (tmp_path / "out").exists()
