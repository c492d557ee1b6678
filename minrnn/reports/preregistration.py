"""The pre-registered seed matrices (issue #35): their file, their statistics and their runs.

results/preregistration/preregistration.yaml fixes, before the runs, the arms, seeds, bar and test of
each verdict that hangs on seed noise. This module reads and checks that file (``load``), gives the
statistics it names -- Wilson intervals for fit rates, Fisher's exact test between two arms, two
standard errors of a difference of means, and the budget rule (still_improving, from the claims
machinery, where every verdict's rules are) -- and lists its runs in order, with those
already in results/ (same config identity and seed) marked done (``plan``). scripts/run_preregistered.py
runs the rest.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

from minrnn.reader import UnreadableFile, read_text
from minrnn.reports.claims.machinery import still_improving  # noqa: F401  (the budget rule, one place)

PREREGISTRATION = Path("results/preregistration/preregistration.yaml")
TESTS = ("fit_rate", "means", "above_chance")
METRICS = ("test_acc", "val_acc_area", "val_acc_last")
SET_BY_RUNNER = ("seed", "scale", "threads", "paths.results", "paths.runs")


# ---------------------------------------------------------------- statistics


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a fit rate of k successes in n seeds (Wilson 1927)."""
    if not 0 <= k <= n or n < 1:
        raise ValueError(f"a fit rate needs 0 <= k <= n and n >= 1, got k={k}, n={n}")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def fisher_exact(table: tuple[tuple[int, int], tuple[int, int]]) -> float:
    """Two-sided p-value of Fisher's exact test on a 2x2 table ((fit_a, unfit_a), (fit_b, unfit_b)): the
    sum of the hypergeometric probabilities, margins fixed, of every table at most as likely as the
    observed one, in exact integer arithmetic (no tolerance for ties needed)."""
    (a, b), (c, d) = table
    if min(a, b, c, d) < 0:
        raise ValueError(f"a 2x2 table of counts must be >= 0, got {table}")
    row, col, n = a + b, a + c, a + b + c + d

    def ways(x: int) -> int:  # the tables with top-left cell x, margins fixed, times C(n, row)
        return math.comb(col, x) * math.comb(n - col, row - x)

    observed = ways(a)
    support = range(max(0, row + col - n), min(row, col) + 1)
    return sum(w for w in map(ways, support) if w <= observed) / math.comb(n, row)


def mean_difference(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(mean(xs) - mean(ys), two standard errors of that difference) over seeds (about a 95% interval);
    each arm needs two seeds for a spread."""
    if len(xs) < 2 or len(ys) < 2:
        raise ValueError(f"a difference of means needs >= 2 seeds per arm, got {len(xs)} and {len(ys)}")
    se = math.sqrt(statistics.variance(xs) / len(xs) + statistics.variance(ys) / len(ys))
    return statistics.fmean(xs) - statistics.fmean(ys), 2 * se


def mean_above(xs: list[float], chance: float) -> tuple[float, float]:
    """(mean(xs) - chance, two standard errors of the mean) over seeds."""
    if len(xs) < 2:
        raise ValueError(f"a mean against chance needs >= 2 seeds, got {len(xs)}")
    return statistics.fmean(xs) - chance, 2 * statistics.stdev(xs) / math.sqrt(len(xs))


# ---------------------------------------------------------------- the file


@dataclass(frozen=True)
class Arm:
    name: str
    overrides: tuple[str, ...]
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class Verdict:
    id: str
    claim: str
    priority: int
    folder: str
    metrics: tuple[str, ...]
    test: str
    arms: tuple[Arm, ...]
    comparisons: tuple[tuple[str, str], ...]
    bar: float | None = None
    groups: dict = field(default_factory=dict)  # {group: [arm, ...]} (the above_chance test's groups)
    chance: dict = field(default_factory=dict)  # {arm: its chance level} (the above_chance test)


@dataclass(frozen=True)
class Preregistration:
    scale: str
    threads: int
    budget_core_hours: float
    alpha: float
    confidence: float
    last_evaluations: int
    min_spread: float
    verdicts: tuple[Verdict, ...]


def _is(kind: str, value) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "str":
        return isinstance(value, str) and bool(value.strip())
    if kind == "dict":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    if kind == "list[str]":
        return isinstance(value, list) and all(_is("str", v) for v in value)
    if kind == "list[int]":
        return isinstance(value, list) and all(_is("int", v) and v >= 0 for v in value)
    raise AssertionError(kind)


def _fields(node, spec: dict[str, str], where: str, optional: dict[str, str] = None) -> dict:
    """``node`` as a dict whose keys are spec's (all present) and optional's, each of its type."""
    optional = optional or {}
    if not isinstance(node, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(node).__name__}")
    unknown = [k for k in node if k not in spec and k not in optional]
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown key (known: {', '.join([*spec, *optional])})")
    for key, kind in {**spec, **optional}.items():
        if key not in node:
            if key in spec:
                raise ValueError(f"{where}.{key}: missing")
            continue
        if not _is(kind, node[key]):
            raise ValueError(f"{where}.{key}: expected {kind}, got {node[key]!r}")
    return node


TOP = {
    "version": "int",
    "scale": "str",
    "threads": "int",
    "budget_core_hours": "number",
    "alpha": "number",
    "confidence": "number",
    "budget_rule": "dict",
    "verdicts": "list",
}
VERDICT = {
    "id": "str",
    "claim": "str",
    "priority": "int",
    "folder": "str",
    "question": "str",
    "metrics": "list[str]",
    "test": "str",
    "comparisons": "list",
    "arms": "list",
    "outcomes": "dict",
}
ARM = {"name": "str", "overrides": "list[str]", "seeds": "list[int]"}


def _arm(node, where: str) -> Arm:
    _fields(node, ARM, where, {"note": "str"})
    if not node["seeds"] or len(set(node["seeds"])) != len(node["seeds"]):
        raise ValueError(f"{where}.seeds: expected distinct seeds, at least one, got {node['seeds']}")
    for o in node["overrides"]:
        key = o.split("=", 1)[0].lstrip("+~")
        if "=" not in o or key in SET_BY_RUNNER:
            why = "the runner sets it" if "=" in o else "not a key=value override"
            raise ValueError(f"{where}.overrides: {o!r}: {why}")
    return Arm(node["name"], tuple(node["overrides"]), tuple(node["seeds"]))


def _verdict(node, where: str) -> Verdict:
    _fields(node, VERDICT, where, {"bar": "number", "chance": "dict", "groups": "dict"})
    if node["test"] not in TESTS:
        raise ValueError(f"{where}.test: {node['test']!r} is not one of {', '.join(TESTS)}")
    for m in node["metrics"]:
        if m not in METRICS:
            raise ValueError(f"{where}.metrics: {m!r} is not one of {', '.join(METRICS)}")
    if node["test"] in ("fit_rate", "above_chance") and "bar" not in node:
        raise ValueError(f"{where}.bar: missing (the {node['test']} test needs an accuracy bar)")
    if "bar" in node and not 0 < node["bar"] <= 1:
        raise ValueError(f"{where}.bar: expected an accuracy in (0, 1], got {node['bar']}")
    if not node["arms"]:
        raise ValueError(f"{where}.arms: expected at least one arm")
    arms = tuple(_arm(a, f"{where}.arms[{i}]") for i, a in enumerate(node["arms"]))
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}.arms: arm names must be distinct, got {names}")
    groups = node.get("groups", {})
    for g, members in groups.items():
        if not _is("list[str]", members) or not set(members) <= set(names) or not members:
            raise ValueError(f"{where}.groups.{g}: expected a list of this verdict's arms, got {members!r}")
    for arm, value in node.get("chance", {}).items():
        if arm not in names or not _is("number", value) or not 0 <= value < 1:
            raise ValueError(f"{where}.chance.{arm}: expected an arm of this verdict and a value in [0, 1)")
    if node["test"] == "above_chance" and not node.get("chance"):
        raise ValueError(f"{where}.chance: missing (the above_chance test needs each arm's chance level)")
    pairs = []
    for i, pair in enumerate(node["comparisons"]):
        if not (isinstance(pair, list) and len(pair) == 2 and all(p in names or p in groups for p in pair)):
            raise ValueError(f"{where}.comparisons[{i}]: expected [arm, arm] of this verdict, got {pair!r}")
        pairs.append(tuple(pair))
    return Verdict(
        node["id"], node["claim"], node["priority"], node["folder"], tuple(node["metrics"]), node["test"],
        arms, tuple(pairs), node.get("bar"), dict(groups), dict(node.get("chance", {})),
    )  # fmt: skip


def parse(doc, where: str = "preregistration") -> Preregistration:
    """The pre-registration from its parsed YAML; anything unknown, missing or of the wrong type is one
    ValueError naming the key."""
    _fields(doc, TOP, where)
    rule = _fields(doc["budget_rule"], {"last_evaluations": "int", "min_spread": "number"}, f"{where}.budget_rule")
    for key in ("alpha", "confidence"):
        if not 0 < doc[key] < 1:
            raise ValueError(f"{where}.{key}: expected a value in (0, 1), got {doc[key]}")
    if doc["scale"] not in ("cpu", "paper"):
        raise ValueError(f"{where}.scale: expected cpu or paper, got {doc['scale']!r}")
    if doc["threads"] < 1 or rule["last_evaluations"] < 1:
        raise ValueError(f"{where}: threads and budget_rule.last_evaluations must be >= 1")
    verdicts = tuple(_verdict(v, f"{where}.verdicts[{i}]") for i, v in enumerate(doc["verdicts"]))
    ids = [v.id for v in verdicts]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{where}.verdicts: ids must be distinct, got {ids}")
    return Preregistration(
        doc["scale"], doc["threads"], doc["budget_core_hours"], doc["alpha"], doc["confidence"],
        rule["last_evaluations"], rule["min_spread"], verdicts,
    )  # fmt: skip


def load(path: Path = PREREGISTRATION) -> Preregistration:
    """Read and check the pre-registration file (one ValueError naming the file and key when it is wrong)."""
    import yaml

    try:
        doc = yaml.safe_load(read_text(path))
    except UnreadableFile as e:
        raise ValueError(f"{path}: cannot read ({e.reason})") from None
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: cannot read ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    return parse(doc, str(path))


# ---------------------------------------------------------------- the runs


@dataclass
class Run:
    """One pre-registered run: its verdict, arm and seed, and once composed its identity and name."""

    verdict: str
    arm: str
    seed: int
    overrides: tuple[str, ...]
    identity: str = ""
    run_name: str = ""
    done: bool = False
    estimate_s: float | None = None  # median training time of the arm's committed runs


def ordered_runs(prereg: Preregistration) -> list[Run]:
    """Every run, most decisive first: verdicts by priority, then seeds in rounds across the arms (every
    arm's seed k before any arm's seed k+1), so a matrix cut short stays balanced."""
    runs = []
    for v in sorted(prereg.verdicts, key=lambda v: v.priority):
        rounds = max(len(a.seeds) for a in v.arms)
        for k in range(rounds):
            runs += [Run(v.id, a.name, a.seeds[k], a.overrides) for a in v.arms if k < len(a.seeds)]
    return runs


def command(run: Run, prereg: Preregistration, results: Path) -> list[str]:
    """The minrnn-train overrides of a run: its arm's, then the seed, scale, one thread, the results folder,
    and a checkpoint every 250 steps (not part of the identity) so that a kill loses little."""
    return [
        *run.overrides,
        f"seed={run.seed}",
        f"scale={prereg.scale}",
        f"threads={prereg.threads}",
        f"paths.results={results}",
        "trainer.checkpoint_every=250",
        "trainer.progress=false",
    ]


def compose(overrides: list[str]) -> dict:
    """The resolved config minrnn-train would run for these overrides."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from minrnn.harness.config import CONFIGS, register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        return OmegaConf.to_container(hydra_compose("train", overrides), resolve=True)


def plan(prereg: Preregistration, results: Path, composer=compose) -> list[Run]:
    """The ordered runs, each with its identity and run name (its arm composed once: the seed is not part
    of the identity, and ends the run name as ``-s<seed>-<identity>``), marked done when results/ holds a
    summary of its identity and seed, with an estimate from the training time of its arm's committed
    runs. A run named twice (two verdicts sharing an arm) is listed once."""
    from minrnn.harness.config import identity
    from minrnn.reports.runs import load_runs, training_seconds

    composed: dict[tuple[str, ...], tuple[str, str]] = {}
    found: dict[Path, list[dict]] = {}
    listed, seen = [], set()
    for run in ordered_runs(prereg):
        if run.overrides not in composed:
            config = composer(command(Run(run.verdict, run.arm, 0, run.overrides), prereg, results))
            ident, name = identity(config), config["run_name"]
            if not name.endswith(f"-s0-{ident}"):
                raise ValueError(f"{name}: a run name that does not end in -s<seed>-<identity> (configs/train.yaml)")
            composed[run.overrides] = ident, name.removesuffix(f"-s0-{ident}")
        run.identity, stem = composed[run.overrides]
        run.run_name = f"{stem}-s{run.seed}-{run.identity}"
        if (run.identity, run.seed) in seen:
            continue
        seen.add((run.identity, run.seed))
        folder = Path(results) / Path(run.run_name).parent
        if folder not in found:
            found[folder] = load_runs(folder, prereg.scale, "test_acc")[0]
        mine = [r for r in found[folder] if r["_identity"] == run.identity]
        run.done = any(r["seed"] == run.seed for r in mine)
        run.estimate_s = statistics.median(map(training_seconds, mine)) if mine else None
        listed.append(run)
    return listed


def remaining_seconds(runs: list[Run], default_s: float) -> float:
    """The estimated training time of the runs not done (``default_s`` for an arm with no committed run)."""
    return sum(default_s if r.estimate_s is None else r.estimate_s for r in runs if not r.done)
