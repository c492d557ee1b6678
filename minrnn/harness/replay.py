"""Exact replay (issue 35): rerun a committed run from its stored config and seed, in a scratch folder,
and show that it equals the committed metrics.

A committed summary holds the whole resolved config, its identity and the seed. Replay checks that
the config still hashes to that identity (the code reads it as the run did), trains it again with
the same seed, thread count and settings (only where files go, logging and progress bars changed:
none of them is part of a run's identity), and compares every metric but wall-clock times. On the
same CPU type and versions the comparison is bit-exact; otherwise it lists each metric that differs
and each version or machine fact that differs between the two runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from minrnn.formats import RESULT, commit_of, short_commit
from minrnn.harness.config import as_current, identity
from minrnn.harness.schema import SettingError, check
from minrnn.reader import read_json

# Wall-clock times and the stretches that count them: they differ between any two runs.
TIMES = ("train_seconds_this_session", "train_seconds_all_stretches", "stretches")
RESULTS = Path(__file__).resolve().parents[2] / "results"  # the committed results
# What a run's numbers can depend on besides its config and seed.
ENVIRONMENT = ("device_name", "torch", "python", "torch_threads", "platform")


@dataclass
class Replay:
    committed: Path
    replayed: Path
    differences: list[str] = field(default_factory=list)  # "key: committed -> replayed"
    environment: list[str] = field(default_factory=list)  # the facts that differ between the two runs
    commits: tuple | None = None  # provenance.git_commit of the committed and the replayed run

    @property
    def exact(self) -> bool:
        return not self.differences

    def report(self) -> str:
        if self.exact:
            return f"replay of {self.committed}: bit-exact (every metric but times equal; {self.replayed})"
        lines = [f"replay of {self.committed}: {len(self.differences)} metric(s) differ ({self.replayed})"]
        lines += [f"  {d}" for d in self.differences]
        lines.append(
            "  the two runs differ in: " + "; ".join(self.environment)
            if self.environment
            else "  same CPU type and versions: this is a reproducibility failure"
        )
        if self.commits and code_may_differ(*self.commits):  # said either way: the code itself may differ
            a, b = (short_commit(c) for c in self.commits)
            lines.append(f"  code: committed at {a}, replayed at {b} (git diff names changes)")
        return "\n".join(lines)


def code_may_differ(committed, replayed) -> bool:
    """Whether two runs' recorded commits may hold different code: other commits, or either unknown or
    run with changes no commit holds (two '-dirty' of one commit need not be the same changes)."""
    (a, dirty_a), (b, dirty_b) = commit_of(committed), commit_of(replayed)
    return a is None or b is None or a != b or dirty_a or dirty_b


def replay_with(provenance: dict) -> str:
    """How to replay a run this code cannot: with the code of the commit it records (checked out as
    ``git worktree add``), what a '-dirty' one lacks, or, with no commit recorded, the date to look for."""
    sha, dirty = commit_of(provenance.get("git_commit"))
    if sha is None:
        return (
            f"it records no commit (provenance.git_commit {provenance.get('git_commit')!r}): replay it with "
            f"the code of its date, {provenance.get('date', 'not recorded')}"
        )
    changes = " (it ran with changes to that commit that no commit holds: a replay there may differ)"
    return f"replay it with the code it came from: git worktree add <folder> {sha}" + (changes if dirty else "")


def flatten(node, prefix: str = "") -> dict:
    """Nested metrics as {"a.b[2]": value}: every number compared on its own."""
    if isinstance(node, dict):
        return {
            k: v for key, sub in node.items() for k, v in flatten(sub, f"{prefix}.{key}" if prefix else key).items()
        }
    if isinstance(node, list):
        return {k: v for i, sub in enumerate(node) for k, v in flatten(sub, f"{prefix}[{i}]").items()}
    return {prefix: node}


def compare(committed: dict, replayed: dict) -> tuple[list[str], list[str]]:
    """(metrics that differ, environment facts that differ) between two summaries."""
    old = flatten({k: v for k, v in committed["metrics"].items() if k not in TIMES})
    new = flatten({k: v for k, v in replayed["metrics"].items() if k not in TIMES})
    differences = [
        f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)
    ]
    a, b = committed.get("provenance", {}), replayed.get("provenance", {})
    environment = [f"{k} {a.get(k)!r} vs {b.get(k)!r}" for k in ENVIRONMENT if a.get(k) != b.get(k)]
    return differences, environment


def scratch_folder(scratch: str | Path, summary: Path) -> Path:
    """``scratch`` resolved, refused unless it is new or empty and outside every results folder: a folder that
    held this run's result would be skipped as finished (a replay that trains nothing), and a replay never
    writes among committed results."""
    scratch = Path(scratch).resolve()
    if scratch.exists() and (not scratch.is_dir() or any(scratch.iterdir())):
        raise ValueError(f"--scratch {scratch}: not an empty folder; a replay trains in a new or empty one")
    for results in {RESULTS} | {p for p in summary.resolve().parents if p.name == "results"}:
        if scratch == results or results in scratch.parents:
            raise ValueError(f"--scratch {scratch}: inside {results}; a replay never writes among results")
    return scratch


def replay(summary_path: str | Path, scratch: str | Path) -> Replay:
    """Train the committed run at ``summary_path`` again under ``scratch`` and compare (module docstring)."""
    from minrnn.harness.train import run  # the harness entry point: Hydra and torch load only here

    path = Path(summary_path)
    committed = read_json(path, RESULT)  # minrnn.reader: one UnreadableFile (a ValueError) naming the file
    config, seed = committed["config"], committed["seed"]
    if "identity" not in committed:  # committed before runs carried one (48269b5): its settings were others
        raise ValueError(
            f"{path}: committed before runs recorded an identity, so this code cannot check that it reads the "
            f"stored config as the run did (its settings have since been renamed); "
            + replay_with(committed["provenance"])
        )
    if identity(config) != committed.get("identity"):
        raise ValueError(
            f"{path}: its stored config hashes to {identity(config)}, not its identity "
            f"{committed.get('identity')}: this code no longer reads the config as the run did"
        )
    if config.get("seed") != seed:
        raise ValueError(f"{path}: seed {seed!r}, but its config's seed is {config.get('seed')!r}: not one run")
    config = as_current(config)  # settings renamed since it was committed (trainer.amp)
    try:
        check(config, here=False)  # the schema, before anything is written
    except SettingError as e:
        raise ValueError(f"{path}: this code no longer takes its stored config: {e}") from None
    scratch = scratch_folder(scratch, path)
    where = {"results": str(scratch / "results"), "runs": str(scratch / "runs")}
    off = {"paths": where, "logger": {"mode": "disabled"}, "trainer": {"progress": False}, "seed": seed}
    cfg = OmegaConf.merge(OmegaConf.create(config), off)
    replayed = run(cfg)
    differences, environment = compare(committed, replayed)
    commits = tuple(r.get("provenance", {}).get("git_commit") for r in (committed, replayed))
    return Replay(path, scratch / "results" / f"{cfg.run_name}.json", differences, environment, commits)
