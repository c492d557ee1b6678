"""The pre-registered verdicts decided (issue #35, part 2): results/preregistration/preregistration.yaml's
tests applied to the runs in results/, by the outcomes that file fixed before the runs.

A verdict is "pending (k of n runs)" until every run of its matrix is in results/; then its outcome is
the first of the file's outcomes whose condition is met, in the file's order, and "budget-limited"
replaces any outcome other than "holds" when an arm it rests on is still improving (the budget rule of
minrnn.reports.claims.machinery, with the file's parameters). The two Figure 5 matrices decide together,
as the file says. ``decide`` returns one dict per verdict: its outcome, why, and every statistic it rests
on (fit rates with Wilson intervals, Fisher's p, differences of means with two standard errors).
"""

from __future__ import annotations

import statistics
from pathlib import Path

from minrnn.reports.claims.machinery import BUDGET, FAILS, HOLDS, INCONCLUSIVE, PARTLY, arm_still_improving
from minrnn.reports.preregistration import (
    Preregistration,
    Verdict,
    fisher_exact,
    mean_above,
    mean_difference,
    plan,
    wilson_interval,
)

PENDING = "pending"


def file_sha256(path: Path) -> str:
    """The sha256 of the pre-registration's bytes: the decided file records the rules it was decided
    under, and tests/test_prereg_decide.py checks it against the committed file (and git's dates)."""
    import hashlib

    from minrnn.reader import read_bytes

    return hashlib.sha256(read_bytes(path)).hexdigest()


TOGETHER = ("figure5-copy", "figure5-listops")  # "both tasks decide together" (the file's outcomes)


# ---------------------------------------------------------------- the metrics the file names


def val_acc_area(run: dict) -> float:
    """The mean validation accuracy over the run, each evaluation standing for the steps since the one
    before, the last carried to the step budget (the file's README: how early a run learns)."""
    hist = [h for h in run["metrics"].get("val_history") or [] if "val_acc" in h]
    if not hist:
        raise ValueError(f"{run.get('_file', 'a run')}: no validation accuracy recorded")
    budget = max(int(run["config"]["trainer"]["max_steps"]), int(hist[-1]["step"]))
    area, before = 0.0, 0
    for h in hist:
        area += h["val_acc"] * (h["step"] - before)
        before = h["step"]
    return (area + hist[-1]["val_acc"] * (budget - before)) / budget


def value(run: dict, metric: str) -> float:
    if metric == "val_acc_area":
        return val_acc_area(run)
    if metric == "val_acc_last":
        return [h["val_acc"] for h in run["metrics"]["val_history"] if "val_acc" in h][-1]
    return float(run["metrics"][metric])


# ---------------------------------------------------------------- the runs of each arm


def arm_runs(prereg: Preregistration, results: Path, composer=None) -> tuple[dict, int, int]:
    """({verdict id: {arm: [its runs in results/, pre-registered seeds only]}}, runs done, runs planned)."""
    from minrnn.reports.runs import load_runs

    runs = plan(prereg, results, composer) if composer else plan(prereg, results)
    found: dict[Path, list[dict]] = {}
    out: dict[str, dict[str, list[dict]]] = {v.id: {a.name: [] for a in v.arms} for v in prereg.verdicts}
    for v in prereg.verdicts:
        for arm in v.arms:
            ident = next(r.identity for r in runs if r.overrides == arm.overrides)
            stem = next(r.run_name for r in runs if r.overrides == arm.overrides)
            folder = Path(results) / Path(stem).parent
            if folder not in found:
                found[folder] = load_runs(folder, prereg.scale, "test_acc")[0]
            out[v.id][arm.name] = sorted(
                (r for r in found[folder] if r["_identity"] == ident and r["seed"] in arm.seeds),
                key=lambda r: r["seed"],
            )
    done = {v.id: sum(len(rs) for rs in out[v.id].values()) for v in prereg.verdicts}
    planned = {v.id: sum(len(a.seeds) for a in v.arms) for v in prereg.verdicts}
    return out, done, planned


# ---------------------------------------------------------------- the tests


def fit(runs: list[dict], bar: float, confidence: float) -> dict:
    k, n = sum(value(r, "test_acc") >= bar for r in runs), len(runs)
    lo, hi = wilson_interval(k, n, confidence)
    return {"fit": k, "n": n, "wilson": [lo, hi]}


def compare_means(a: list[float], b: list[float]) -> dict:
    diff, two_se = mean_difference(a, b)
    return {"difference": diff, "two_se": two_se, "sign": (diff > two_se) - (diff < -two_se)}


def group_means(v: Verdict, arms: dict[str, list[dict]], group: str) -> list[float]:
    """A group's per-seed mean test accuracy over its arms (seeds every member has)."""
    members = v.groups[group]
    seeds = set.intersection(*({r["seed"] for r in arms[m]} for m in members))
    return [statistics.fmean(value(next(r for r in arms[m] if r["seed"] == s), "test_acc") for m in members)
            for s in sorted(seeds)]  # fmt: skip


def improving(prereg: Preregistration, runs: list[dict]) -> bool:
    return arm_still_improving(runs, prereg.last_evaluations, prereg.min_spread)


# ---------------------------------------------------------------- the outcomes, as the file states them


def recall(prereg, v, arms) -> tuple[str, str, dict]:
    stats = {"arms": {a: fit(rs, v.bar, prereg.confidence) for a, rs in arms.items()}, "comparisons": {}}
    for a, b in v.comparisons:
        fa, fb = stats["arms"][a], stats["arms"][b]
        p = fisher_exact(((fa["fit"], fa["n"] - fa["fit"]), (fb["fit"], fb["n"] - fb["fit"])))
        stats["comparisons"][f"{a} vs {b}"] = {"fisher_p": p}
    a, b = v.comparisons[0]  # the deciding pair: the Transformer against Mamba
    fa, fb, p = stats["arms"][a], stats["arms"][b], stats["comparisons"][f"{a} vs {b}"]["fisher_p"]
    rate = f"{a} {fa['fit']}/{fa['n']}, {b} {fb['fit']}/{fb['n']} at >= {v.bar}, Fisher p = {p:.3g}"
    if p < prereg.alpha and fa["fit"] / fa["n"] > fb["fit"] / fb["n"]:
        return HOLDS, rate, stats
    if p < prereg.alpha:
        return FAILS, rate, stats
    return INCONCLUSIVE, rate, stats


def chomsky(prereg, v, arms) -> tuple[str, str, dict]:
    chance = v.chance
    stats = {"arms": {a: fit(rs, v.bar, prereg.confidence) for a, rs in arms.items()}, "comparisons": {}}
    for a in chance:
        above, two_se = mean_above([value(r, "test_acc") for r in arms[a]], chance[a])
        stats["arms"][a].update(above_chance=above, two_se=two_se, handled=above > two_se)
    harder = {}
    for reg, cnt in v.comparisons:
        c = compare_means(group_means(v, arms, reg), group_means(v, arms, cnt))
        stats["comparisons"][f"{reg} vs {cnt}"] = c
        harder[reg.split("-")[0]] = c["sign"] > 0
    regular = list(chance)  # the tasks given a chance level are the regular ones
    handled = [a for a in regular if stats["arms"][a]["handled"]]
    why = f"{len(handled)} of {len(regular)} regular tasks above chance; counting harder for: " + (
        ", ".join(m for m, h in harder.items() if h) or "neither model"
    )
    if len(handled) == len(regular) and all(harder.values()):
        return HOLDS, why, stats
    if handled and any(harder.values()):
        return PARTLY, why, stats
    return FAILS, why, stats


def means(prereg, v, arms) -> tuple[str, str, dict]:
    stats = {"comparisons": {}}
    for a, b in v.comparisons:
        for m in v.metrics:
            c = compare_means([value(r, m) for r in arms[a]], [value(r, m) for r in arms[b]])
            stats["comparisons"][f"{a} vs {b} ({m})"] = c
    first = stats["comparisons"][f"{v.comparisons[0][0]} vs {v.comparisons[0][1]} ({v.metrics[0]})"]
    why = f"{v.comparisons[0][0]} - {v.comparisons[0][1]}: {first['difference']:+.4f} (2 SE {first['two_se']:.4f})"
    return {1: HOLDS, -1: FAILS, 0: INCONCLUSIVE}[first["sign"]], why, stats


def fit_rates(prereg, v, arms) -> tuple[str, str, dict]:
    stats = {"arms": {a: fit(rs, v.bar, prereg.confidence) for a, rs in arms.items()}}
    above = [a for a, s in stats["arms"].items() if s["wilson"][0] > 0.5]
    below = [a for a, s in stats["arms"].items() if s["wilson"][1] < 0.5]
    why = "; ".join(f"{a} {s['fit']}/{s['n']} (Wilson {s['wilson'][0]:.2f}-{s['wilson'][1]:.2f})"
                    for a, s in stats["arms"].items())  # fmt: skip
    if len(above) == len(arms):
        return HOLDS, why, stats
    if above:
        return PARTLY, why, stats
    if len(below) == len(arms):
        return FAILS, why, stats
    return INCONCLUSIVE, why, stats


def figure5(decided: dict[str, dict]) -> tuple[str, str]:
    """Both Figure 5 tasks together: each larger bias ahead of the next smaller on both metrics in both
    tasks (holds); the largest ahead of the smallest on one metric in some task (partly); instead the
    smallest ahead of the largest on some metric (does not hold); no difference beyond 2 SE (inconclusive)."""
    comps = {task: d["stats"]["comparisons"] for task, d in decided.items()}
    steps = ("bias3 vs bias0", "bias5 vs bias3")
    if all(c[k]["sign"] > 0 for c in comps.values() for k in c if k.startswith(steps)):
        return HOLDS, "each larger bias ahead of the next smaller, both metrics, both tasks"
    ends = [(t, k) for t, c in comps.items() for k in c if k.startswith("bias5 vs bias0")]

    def named(sign: int) -> str:  # the decisive comparisons: task, metric, difference and its two SE
        return "; ".join(
            f"{t} {k.split('(')[-1].rstrip(')')} {comps[t][k]['difference']:+.3f} (2 SE {comps[t][k]['two_se']:.3f})"
            for t, k in ends
            if comps[t][k]["sign"] == sign
        )

    if any(comps[t][k]["sign"] > 0 for t, k in ends):
        return PARTLY, f"bias 5 ahead of bias 0 (bias 5 - bias 0): {named(1)}"
    if any(comps[t][k]["sign"] < 0 for t, k in ends):
        return FAILS, f"bias 0 ahead of bias 5 (bias 5 - bias 0): {named(-1)}"
    if all(c[k]["sign"] == 0 for c in comps.values() for k in c):
        return INCONCLUSIVE, "no difference beyond two standard errors"
    return INCONCLUSIVE, "the differences beyond two standard errors do not order the biases"


# ---------------------------------------------------------------- every verdict


def decide(prereg: Preregistration, results: Path, composer=None) -> list[dict]:
    """One dict per verdict: id, claim, runs done and planned, outcome, why, stats."""
    arms_of, done, planned = arm_runs(prereg, results, composer)
    out = {}
    for v in prereg.verdicts:
        arms = arms_of[v.id]
        row = {"id": v.id, "claim": v.claim, "runs": done[v.id], "planned": planned[v.id], "stats": {}}
        if done[v.id] < planned[v.id]:
            row.update(outcome=PENDING, why=f"{done[v.id]} of {planned[v.id]} runs")
        else:
            if v.test == "fit_rate" and v.comparisons:
                outcome, why, stats = recall(prereg, v, arms)
                resting = [arms[v.comparisons[0][1]]]
            elif v.test == "fit_rate":
                outcome, why, stats = fit_rates(prereg, v, arms)
                resting = [arms[a] for a, s in stats["arms"].items() if s["wilson"][0] <= 0.5]
            elif v.test == "above_chance":
                outcome, why, stats = chomsky(prereg, v, arms)
                resting = [arms[a] for a in v.chance if not stats["arms"][a]["handled"]]
            else:
                outcome, why, stats = means(prereg, v, arms)
                resting = list(arms.values())
            stats["still_improving"] = sorted(a for a, rs in arms.items() if improving(prereg, rs))
            limited = any(improving(prereg, r) for r in resting)
            row.update(outcome=outcome, why=why, stats=stats, resting_improving=limited)
        out[v.id] = row
    together = [out[i] for i in TOGETHER if i in out]
    if together and all(r["outcome"] != PENDING for r in together):
        outcome, why = figure5({r["id"]: r for r in together})
        for r in together:
            r.update(outcome=outcome, why=why, resting_improving=any(x["resting_improving"] for x in together))
    elif together:  # decided only together: the first to finish waits for the other
        waiting = ", ".join(r["id"] for r in together if r["outcome"] == PENDING)
        for r in together:
            if r["outcome"] != PENDING:
                r.update(outcome=PENDING, why=f"all {r['planned']} runs in; decided with {waiting}")
    for r in out.values():
        if r["outcome"] not in (PENDING, HOLDS) and r.pop("resting_improving", False):
            r["why"] += f"; {r['outcome']} while an arm it rests on is still improving"
            r["outcome"] = BUDGET
        r.pop("resting_improving", None)
    return list(out.values())


def markdown(rows: list[dict]) -> str:
    lines = [
        "# The pre-registered verdicts, decided",
        "",
        "Generated by `make claims` (minrnn/reports/prereg_decide.py) from results/ and "
        "[preregistration.yaml](preregistration.yaml): each verdict is pending until every run of its seed matrix "
        "is in results/, then decided by the outcomes that file fixed before the runs.",
        "",
        "| verdict | claim | runs | outcome | why |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['id']} | {r['claim']} | {r['runs']} of {r['planned']} | **{r['outcome']}** | {r['why']} |")
    return "\n".join(lines) + "\n"


def with_preregistered(rows: list[dict], results: Path, out: Path, scale: str) -> list[dict]:
    """The claims rows with their pre-registered verdicts: where results/ holds the pre-registration
    (at its scale), writes out/preregistration/verdicts_<scale>.{json,md}, marks each claim row with its
    matrices' outcomes, and once every matrix of a row is decided, that outcome is the row's verdict."""
    from minrnn.files import write_text
    from minrnn.harness.records import provenance
    from minrnn.reports.preregistration import load
    from minrnn.reports.render import write_result_json

    path = Path(results) / "preregistration" / "preregistration.yaml"
    if not path.is_file():
        return rows
    prereg = load(path)
    if prereg.scale != scale:
        return rows
    claim_ids = {row["id"] for row in rows}
    for v in prereg.verdicts:  # a verdict naming no claim would decide nothing, silently
        if v.claim not in claim_ids:
            raise ValueError(f"{path}: verdict {v.id}: claim {v.claim!r} is not a claim of minrnn/reports/claims/")
    decided = decide(prereg, results)
    folder = Path(out) / "preregistration"
    doc = {"scale": scale, "preregistration_sha256": file_sha256(path), "verdicts": decided, "provenance": provenance()}
    write_result_json(folder / f"verdicts_{scale}.json", doc)
    write_text(folder / f"verdicts_{scale}.md", markdown(decided))
    by_claim: dict[str, list[dict]] = {}
    for d in decided:
        by_claim.setdefault(d["claim"], []).append(d)
    for row in rows:
        mine = by_claim.get(row["id"], [])
        row["preregistered_outcomes"] = {d["id"]: f"{d['outcome']} ({d['runs']} of {d['planned']} runs)" for d in mine}
        if mine and all(d["outcome"] != PENDING for d in mine):
            row["verdict"] = mine[0]["outcome"]  # the matrices of one claim decide together (Figure 5's two)
            whys: dict[str, list[str]] = {}  # matrices decided together share one reason: said once
            for d in mine:
                whys.setdefault(d["why"], []).append(d["id"])
            said = "; ".join(f"{' and '.join(ids)}: {why}" for why, ids in whys.items())
            row["ours"] = row["ours"].rstrip(". ") + f". Pre-registered: {said}."
    return rows
