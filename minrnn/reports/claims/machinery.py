"""The claim machinery: claims as data, each checked against the results files (``make claims``).

A claim is the paper's statement (with where it stands), the results it is decided by, and a check
(registered with ``@claim``; its docstring's first line is the statement) that reads only files under
results/ and returns a verdict: holds, partly holds, does not hold, budget-limited (it does not hold
yet, and a run that decides it was still improving at its last evaluation), or not run (its runs or
benchmark are missing, or it needs a GPU or data we cannot get here). The paper's numbers come from
minrnn/reports/paper_reference.json; ours are computed, never typed. Where a longer run of a preset exists
(configs/experiment/claims/, listed in runs.yaml beside this module), the claim is decided by it. The
claims themselves are in paper.py, appendix.py and discussion.py; this module registers, evaluates and
writes them (results/claims_<scale>.{md,json}, the claims table of docs/results.md).
"""

from __future__ import annotations

import functools
import math
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from minrnn.files import write_text
from minrnn.harness.records import provenance
from minrnn.reader import UnreadableFile, read_csv, read_json, read_text
from minrnn.reports.render import write_result_json
from minrnn.reports.runs import load_runs, metric, paper_reference, preset_identities

HOLDS, PARTLY, FAILS, BUDGET, NOT_RUN = "holds", "partly holds", "does not hold", "budget-limited", "not run"
INCONCLUSIVE = "inconclusive"  # the data cannot decide: the difference is within the seeds' spread
VERDICTS = (HOLDS, PARTLY, FAILS, BUDGET, NOT_RUN, INCONCLUSIVE)
NOISE_ONE_SEED = 0.01  # the spread assumed for a metric measured once (accuracy or loss units)


@dataclass
class Verdict:
    verdict: str
    ours: str
    paper: str = ""


class Evidence:
    """The results of one scale: training runs matched to presets by identity, benchmark tables."""

    def __init__(self, results: Path, scale: str):
        self.results, self.scale = Path(results), scale
        self._folders: dict[tuple[str, str], list[dict]] = {}

    def paper(self, section: str) -> dict:
        return paper_reference(section)

    def runs(self, folder: str, key: str, *presets: list[str]) -> tuple[list[dict], list[str]]:
        """The runs of the first preset (a list of overrides) that has any, and that preset."""
        if (folder, key) not in self._folders:
            self._folders[folder, key] = load_runs(self.results / folder / self.scale, self.scale, key)[0]
        runs = self._folders[folder, key]
        if not runs:
            return [], []
        for overrides in presets:
            found = [r for r in runs if r["_identity"] == _identity(tuple(overrides), self.scale)]
            if found:
                return found, overrides
        return [], []

    def bench(self, name: str) -> list[dict]:
        """Rows of results/efficiency/<name>_<scale>.csv that were measured (status ok)."""
        path = self.results / "efficiency" / f"{name}_{self.scale}.csv"
        if not path.exists():
            return []
        return [row for row in read_csv(path) if row["status"] == "ok"]

    def json(self, path: str) -> dict | None:
        path = self.results / path
        return read_json(path) if path.exists() else None


@functools.cache
def _identity(overrides: tuple[str, ...], scale: str) -> str:
    """A preset's identity (composing takes ~0.15 s; the configs do not change while this runs)."""
    return preset_identities({0: list(overrides)}, scale)[0]


def flat(value) -> str:
    """A paper_reference entry as text: nested dicts become 'key: value' lists."""
    if isinstance(value, dict):
        sep = "; " if any(isinstance(v, dict) for v in value.values()) else ", "
        return sep.join(f"{k}: {flat(v)}" for k, v in value.items())
    return str(value)


def mean(runs: list[dict], key: str) -> float:
    return statistics.fmean(metric(r, key) for r in runs)


def std(runs: list[dict], key: str) -> float:
    return statistics.stdev(metric(r, key) for r in runs) if len(runs) > 1 else float("nan")


def _validation(run: dict) -> list[float]:
    """A run's validation curve, oriented so that larger is better."""
    hist = run["metrics"].get("val_history") or []
    key = "val_acc" if hist and "val_acc" in hist[-1] else "val_loss"
    sign = 1 if key == "val_acc" else -1
    return [sign * h[key] for h in hist if key in h]


def difference_noise(a: list[dict], b: list[dict], key: str) -> float:
    """Two standard errors of the difference of two means over seeds (about a 95% interval): a smaller
    difference cannot be told from seed noise. One seed has no spread: NOISE_ONE_SEED stands in for it."""
    return two_standard_errors([metric(r, key) for r in a], [metric(r, key) for r in b])


def two_standard_errors(xs: list[float], ys: list[float]) -> float:
    var = [statistics.variance(v) if len(v) > 1 else NOISE_ONE_SEED**2 for v in (xs, ys)]
    return 2 * math.sqrt(var[0] / len(xs) + var[1] / len(ys))


# ---- the verdict rules: every claim is decided by these, alike (tests/test_claims.py hits each branch) ------
#
# 1. budget: a verdict other than "holds" is budget-limited when a deciding arm (one configuration's
#    seeds) is still improving at the end of its budget, by its own seeds' spread (still_improving);
#    each arm is judged alone, never pooled with another's seeds.
# 2. guessing floor: an accuracy at or below 1/k (k the choices of a guess: classes, pairs) plus MARGIN
#    is guessing; a rise from below the floor up to it is not learning (floor, above_floor).
# 3. censored ties: the step at which a run reaches its best is unknown when its best is its last
#    evaluation at the step budget (censored); "A earlier than B" with both censored is never decided.
# 4. the paper's quantity: a speed or memory claim is decided by the paper's algorithm (the log-space
#    parallel scan) and on the paper's device; a quantity only a GPU measures is "not run (GPU memory)".
# 5. faster: "A needs k x the steps of B" is steps-to-target (the best loss both reach), with n.

BUDGET_LAST_EVALUATIONS = 2  # results/preregistration/preregistration.yaml's budget_rule (the same rule)
BUDGET_MIN_SPREAD = NOISE_ONE_SEED
MARGIN = 0.05  # accuracy: a gap smaller than this is not told from a guess or from another arm


def still_improving(
    curves: list[list[float]], last: int = BUDGET_LAST_EVALUATIONS, min_spread: float = BUDGET_MIN_SPREAD
) -> bool:
    """The budget rule: an arm's validation curve (larger is better) rose over its last ``last``
    evaluations, averaged over its seeds (``curves``, one per seed), by more than its own seeds' spread
    (the sample std of the final values; ``min_spread`` for one seed or a smaller spread)."""
    curves = [c for c in curves if len(c) > last]
    if not curves:
        return False
    finals = [c[-1] for c in curves]
    spread = max(statistics.stdev(finals) if len(finals) > 1 else 0.0, min_spread)
    return statistics.fmean(c[-1] - c[-1 - last] for c in curves) > spread


def arm_still_improving(
    runs: list[dict], last: int = BUDGET_LAST_EVALUATIONS, min_spread: float = BUDGET_MIN_SPREAD
) -> bool:
    """The budget rule on one arm's runs: stopped by their step budget (not solved, not early-stopped)
    and still improving (validation accuracy, or minus the loss)."""
    at_budget = [r for r in runs if r["metrics"].get("stop_reason") == "max_steps"]
    return bool(at_budget) and still_improving([_validation(r) for r in at_budget], last, min_spread)


def budget(verdict: str, arms: list[list[dict]]) -> str:
    """A verdict other than holds (or not run) is budget-limited when any deciding arm still improves."""
    if verdict in (HOLDS, NOT_RUN) or not any(arm_still_improving(a) for a in arms if a):
        return verdict
    return BUDGET


def floor(k: int | float) -> float:
    """The guessing floor of a choice among ``k``: 1/k."""
    return 1.0 / k


def above_floor(acc: float, chance: float, margin: float = MARGIN) -> bool:
    """An accuracy that is more than a guess: above the floor by more than ``margin``."""
    return acc - chance > margin


def censored(runs: list[dict]) -> bool:
    """Time-to-best is censored: every run's best is its last evaluation at its step budget."""
    return bool(runs) and all(
        r["metrics"].get("stop_reason") == "max_steps" and r["metrics"].get("best_step") == r["metrics"].get("steps")
        for r in runs
    )


def earlier(a: list[dict], b: list[dict]) -> bool | None:
    """Whether arm ``a`` reaches its best at an earlier step than arm ``b`` (means over seeds); None when
    both are censored (a censored tie: never decided)."""
    if censored(a) and censored(b):
        return None
    if censored(b):
        return True  # a's best is before the budget, b's at or after it
    if censored(a):
        return False
    return statistics.fmean(r["metrics"]["best_step"] for r in a) < statistics.fmean(
        r["metrics"]["best_step"] for r in b
    )


def steps_to(run: dict, target: float) -> int | None:
    """The first evaluation step at which a run's validation loss is at or below ``target``."""
    return next((h["step"] for h in run["metrics"].get("val_history", []) if h["val_loss"] <= target), None)


def steps_to_target(slow: list[dict], fast: list[dict]) -> tuple[float, float, int, int] | None:
    """Steps-to-target: (ratio, target, n_slow, n_fast), the target the best loss both arms reach (the larger
    of their best validation losses, means over seeds), the ratio of their mean steps to reach it."""
    if not slow or not fast:
        return None
    target = max(statistics.fmean(r["metrics"]["best_val"] for r in arm) for arm in (slow, fast))
    steps = [[steps_to(r, target) for r in arm] for arm in (slow, fast)]
    if any(s is None for arm in steps for s in arm):
        return None
    return statistics.fmean(steps[0]) / statistics.fmean(steps[1]), target, len(slow), len(fast)


def gpu_only(what: str, paper: str = "") -> Verdict:
    """The verdict of a quantity only a GPU measures (GPU memory, a CUDA kernel's time): not run."""
    return Verdict(NOT_RUN, f"not run ({what}): a GPU-only quantity; CPU numbers are a different quantity", paper)


@dataclass(frozen=True)
class Claim:
    id: str
    source: str
    text: str
    table: str
    check: Callable[[Evidence], Verdict]
    section: str = "paper"


CLAIMS: list[Claim] = []


def claim(id: str, source: str, table: str, text: str | None = None, section: str = "paper"):
    """Register a check as one of the paper's claims (``section="discussion"``: a claim of the debate the
    paper started, reported apart): ``text`` (default: the first line of the check's docstring), where it
    is made (``source``) and the page that shows our evidence (``table``)."""

    def register(check: Callable[[Evidence], Verdict]) -> Callable[[Evidence], Verdict]:
        CLAIMS.append(Claim(id, source, text or check.__doc__.split("\n")[0], table, check, section))
        return check

    return register


def evaluate(results: Path, scale: str) -> list[dict]:
    """Every claim's verdict at ``scale``, from the files under ``results`` alone."""
    ev, out = Evidence(results, scale), []
    for claim in CLAIMS:
        v = claim.check(ev)
        assert v.verdict in VERDICTS, (claim.id, v.verdict)
        out.append(
            {
                "id": claim.id,
                "source": claim.source,
                "claim": claim.text,
                "paper": v.paper,
                "ours": v.ours,
                "verdict": v.verdict,
                "table": claim.table.format(scale=scale),
                "section": claim.section,
                "preregistered": preregistered().get(claim.id, []),
            }
        )
    return out


@functools.cache
def preregistered() -> dict[str, list[str]]:
    """{claim id: the ids of its pre-registered seed matrices} (results/preregistration/preregistration.yaml)."""
    from minrnn.reports.preregistration import PREREGISTRATION, load

    path = Path(__file__).resolve().parents[3] / PREREGISTRATION
    out: dict[str, list[str]] = {}
    for v in load(path).verdicts if path.exists() else ():
        out.setdefault(v.claim, []).append(v.id)
    return out


def report_rows(rows: list[dict]) -> str:
    """The claims table of docs/results.md: claim (linked to its evidence), verdict, ours (cut at 140)."""
    lines = ["| claim | verdict | ours (cpu) |", "|---|---|---|"]
    for r in rows:
        ours = r["ours"] if len(r["ours"]) <= 140 else r["ours"][:137] + "..."
        lines.append(f"| [{r['claim']}](../results/{r['table']}) | **{r['verdict']}** | {ours} |")
    return "\n".join(lines) + "\n"


def markdown(rows: list[dict], scale: str) -> str:
    lines = []
    for section, title in (("paper", "The paper's claims"), ("discussion", "The discussion the paper started")):
        part = [r for r in rows if r.get("section", "paper") == section]
        if not part:
            continue
        counts = ", ".join(f"{sum(r['verdict'] == v for r in part)} {v}" for v in VERDICTS)
        lines += [
            f"## {title} against our runs, scale={scale}",
            "",
            f"Computed by `make claims` from results/ alone (minrnn/reports/claims/): {counts}. "
            "The rules every row is decided by (machinery.py): budget-limited when not met yet and a deciding arm "
            "(one configuration's seeds) was still improving over its last evaluations by more than its own seeds' "
            "spread, or when both arms of an 'earlier' comparison had their best at their last evaluation "
            "(a censored tie); an accuracy within 0.05 of its guessing floor (1/k) is a guess; speed and memory "
            "are the paper's algorithm's (the log-space scan), GPU-only quantities not run; 'faster' is "
            "steps-to-target with n; inconclusive: the difference is within the seeds' spread. Pre-registered: "
            "the seed matrices of results/preregistration/preregistration.yaml that decide the row.",
            "",
            "| claim | where | the claim's evidence | ours | verdict | pre-registered |",
            "|---|---|---|---|---|---|",
        ]
        for r in part:
            outcomes = r.get("preregistered_outcomes") or {}
            ids = r.get("preregistered", [])
            prereg = ", ".join(f"{i}: {outcomes[i]}" if i in outcomes else i for i in ids) or "no"
            cells = [f"[{r['claim']}]({r['table']})", r["source"], r["paper"], r["ours"], f"**{r['verdict']}**", prereg]
            lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


# ---- the longer runs behind budget-limited claims (runs.yaml, make claims-runs) --------------------------

LONGER_RUNS = Path(__file__).with_name("runs.yaml")


def longer_runs() -> list[dict]:
    """runs.yaml: each longer run's preset, seeds and optional sweep (``key=v1,v2``)."""
    import yaml

    return yaml.safe_load(read_text(LONGER_RUNS))


def longer_run_sweeps() -> list[str]:
    """The minrnn-train multirun overrides of each longer run (``make claims-runs`` runs one per line)."""
    return [
        " ".join(
            [f"experiment=claims/{r['preset']}", "seed=" + ",".join(map(str, r["seeds"])), r.get("sweep", "")]
        ).strip()
        for r in longer_runs()
    ]


def longer_run_cells() -> list[tuple[str, list[str]]]:
    """(label, overrides) of each longer run, one per swept value (the seeds share one identity)."""
    out = []
    for run in longer_runs():
        key, _, values = run.get("sweep", "").partition("=")
        for v in values.split(",") if key else [None]:
            label = run["preset"] + (f" ({key.rsplit('.', 1)[-1]}={v})" if v is not None else "")
            out.append((label, [f"experiment=claims/{run['preset']}", *([f"{key}={v}"] if v is not None else [])]))
    return out


# ---- the claims files and the claims table of docs/results.md (scripts/make_claims.py) -------------------

START, END = "<!-- claims table: generated by make claims -->", "<!-- end of the claims table -->"


def docs_text(path: Path) -> str:
    """The text of ``path`` (docs/results.md) if it has the claims-table markers, else UnreadableFile: read
    before any file is written, so a bad --docs leaves every output as it was."""
    text = read_text(path)
    if START not in text or END not in text:
        raise UnreadableFile(path, f"has no claims-table markers ({START} ... {END})")
    return text


def update_docs(path: Path, text: str, rows: list[dict]) -> None:
    """Regenerate the claims table between the two markers of ``path`` (docs/results.md, read as ``text``)."""
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    paper = [r for r in rows if r.get("section", "paper") == "paper"]
    discussion = [r for r in rows if r.get("section") == "discussion"]
    block = (
        report_rows(paper)
        + "\nThe discussion the paper started (not the paper's claims):\n\n"
        + report_rows(discussion)
    )
    write_text(path, before + START + "\n" + block + END + after)


def add_arguments(ap) -> None:
    ap.add_argument("--scale", choices=["cpu", "paper"], action="append", help="default: every scale with results")
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--out", type=Path, help="where to write (default: RESULTS)")
    ap.add_argument("--docs", type=Path, default=None, help="a Markdown file whose claims block to regenerate")
    ap.add_argument("--longer-runs", action="store_true", help="print the minrnn-train sweeps of make claims-runs")


def scales(results: Path) -> list[str]:
    """The scales with run summaries under ``results``."""
    return [s for s in ("cpu", "paper") if any(results.glob(f"**/{s}/*.json"))]


def write(results: Path, out: Path, scale: str, docs: Path | None = None) -> None:
    """results/claims_<scale>.{json,md} (and the claims table of ``docs`` at CPU scale); printed. Every
    input is checked before the first file is written."""
    from minrnn.reports.prereg_decide import with_preregistered

    doc = docs_text(docs) if docs and scale == "cpu" else None
    rows = with_preregistered(evaluate(results, scale), results, out, scale)
    write_result_json(out / f"claims_{scale}.json", {"scale": scale, "claims": rows, "provenance": provenance()})
    text = markdown(rows, scale)
    write_text(out / f"claims_{scale}.md", text)
    print(text)
    if doc is not None:
        update_docs(docs, doc, rows)


def run(args, error=None) -> int:
    if args.longer_runs:
        print("\n".join(longer_run_sweeps()))
        return 0
    if not args.results.is_dir():
        print(f"make_claims: error: no results folder {args.results}", file=sys.stderr)
        return 2
    found = args.scale or scales(args.results)
    if not found:
        print(f"make_claims: error: no run summaries under {args.results}; run `make reproduce` first", file=sys.stderr)
        return 2
    if args.docs and "cpu" in found:
        docs_text(args.docs)  # before the first scale's files are written
    for scale in found:
        write(args.results, args.out or args.results, scale, args.docs)
    return 0
