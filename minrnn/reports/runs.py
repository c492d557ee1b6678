"""The committed runs a report reads: load them, match them to presets, reduce them to cells.

A table cell is a preset (``experiment=table1/mingru task.arch.depth=2``) at one scale. Its runs are
the results files whose config identity (minrnn.harness.config) equals the preset's as composed now,
one per seed; every other file in the folder is listed as ignored (another config: a trial run, an
older setting), and a file that cannot be trusted (unreadable, no provenance, another scale, a
missing or non-finite metric) is listed as bad. Neither ever reaches a cell. Cells are mean ± sample
std over seeds with n. The paper's numbers come only from minrnn/reports/paper_reference.json.
"""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path

from minrnn.formats import RESULT
from minrnn.harness import registry
from minrnn.harness.config import CONFIGS, identity, register_resolvers, run_identity
from minrnn.harness.records import RESULT_KEYS
from minrnn.reader import UnreadableFile, read_json

ROOT = Path(__file__).resolve().parents[2]  # the repository: results/, docs/ (an editable install)
NAMES = registry.names()  # key -> display name, every model of the registry (minrnn.harness.registry)
MODELS = list(NAMES)  # in display order
PAPER_MODELS = [m.key for m in registry.models() if m.paper]  # minGRU, minLSTM


def preset(experiment: str, model: str, *extra: str) -> list[str]:
    """The overrides of ``model``'s cell in a table: its preset ``<experiment>/<model>`` where one exists,
    else the table's template for any model (``experiment=<experiment> model=<model>``)."""
    if (Path(CONFIGS) / "experiment" / experiment / f"{model}.yaml").exists():
        return [f"experiment={experiment}/{model}", *extra]
    return [f"experiment={experiment}", f"model={model}", *extra]


class ResultsError(ValueError):
    """Nothing to report (no runs), or a results folder that cannot be read; the message says what to run."""


PAPER_REFERENCE = Path(__file__).with_name("paper_reference.json")  # the paper's numbers, an input


def paper_reference(section: str) -> dict:
    """One section of minrnn/reports/paper_reference.json: the paper's numbers, never mixed with ours."""
    return read_json(PAPER_REFERENCE)[section]


def metric(run: dict, key: str):
    """A metric by dotted key (``test_acc``, ``final.score``); None when absent."""
    value = run["metrics"]
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def curve_area(run: dict, key: str = "val_acc") -> float:
    """How fast a run learns: the mean of ``key`` over its evaluations, the last value carried to the step
    budget (a run stopped early at its target keeps it), i.e. the area under the learning curve."""
    hist, every = run["metrics"]["val_history"], run["config"]["trainer"]["eval_every"]
    values = [h[key] for h in hist]
    values += [values[-1]] * max(0, run["config"]["trainer"]["max_steps"] // every - len(values))
    return statistics.fmean(values)


MAX_RESULT_BYTES = 8 * 2**20  # a run summary is a few KiB; anything far larger is not one


def _check_summary(rec, path: Path, scale: str, key: str) -> str | None:
    """Why a results file is not a trustworthy run summary (None when it is): the schema the harness
    writes, a finite metric of the right type and range, and a config that hashes to its identity."""
    if not isinstance(rec, dict):
        return "not a run summary (not a JSON object)"
    missing = [k for k in RESULT_KEYS if k not in rec]
    if missing:
        return f"lacks {', '.join(missing)}"
    if not isinstance(rec["provenance"], dict) or "git_commit" not in rec["provenance"]:
        return "lacks provenance.git_commit"
    if not isinstance(rec["config"], dict) or not isinstance(rec["metrics"], dict):
        return "config and metrics must be JSON objects"
    seed = rec["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        return f"seed is {seed!r}, not an integer >= 0"
    if rec["scale"] != scale:
        return f"a scale={rec['scale']} run in the scale={scale} folder"
    value = metric(rec, key)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return f"metric {key} is {value!r}"
    if key.endswith("acc") and not 0 <= value <= 1:
        return f"metric {key} is {value!r}, outside [0, 1]"
    if why := _check_history(rec["metrics"].get("val_history") or []):
        return why
    try:
        claimed, recomputed = run_identity(rec, path), identity(rec["config"])
    except (TypeError, ValueError, AttributeError) as e:
        return f"its config cannot be hashed ({type(e).__name__})"
    if claimed != recomputed:
        return f"its config hashes to {recomputed}, not to its identity {claimed} (edited by hand?)"
    return None


def _check_history(hist: list) -> str | None:
    """Why a validation curve cannot be read as one (curve areas, the last value, still improving): its
    steps go backwards (a negative weight), or an accuracy is not in [0, 1] (NaN passed every comparison)."""
    if [h["step"] for h in hist] != sorted(h["step"] for h in hist):
        return "val_history's steps go backwards"
    for h in hist:
        bad = [k for k, v in h.items() if k.endswith("acc") and not (math.isfinite(v) and 0 <= v <= 1)]
        if bad:
            return f"val_history at step {h['step']}: {bad[0]} is {h[bad[0]]!r}, outside [0, 1]"
    return None


def load_runs(folder: Path, scale: str, key: str) -> tuple[list[dict], list[str]]:
    """(runs, bad): the trustworthy summaries in folder, and 'file: why' for every other file. A results
    folder is data from anyone who can write there: only regular files of bounded size are read, each is
    checked against the schema (``_check_summary``), and one config and seed counts once (a copy of a
    file, or a rerun under another tag, is listed, not counted as another seed)."""
    runs, bad, seen = [], [], {}
    for f in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
        try:  # the one reader: a regular file in its folder, bounded, depth-limited, the writer's schema
            rec = read_json(f, RESULT, max_bytes=MAX_RESULT_BYTES, folder=folder)
        except UnreadableFile as e:
            bad.append(f"{f}: {e.reason}")
            continue
        why = _check_summary(rec, f, scale, key)
        if why:
            bad.append(f"{f}: {why}")
            continue
        rec["_file"], rec["_identity"] = str(f), run_identity(rec, f)
        seen.setdefault((rec["_identity"], rec["seed"]), []).append(rec)
    for recs in seen.values():  # the file under the run's own name is the one; the others are copies
        own = [r for r in recs if Path(r["_file"]).stem == str(r.get("run_name", "")).rsplit("/", 1)[-1]]
        keep = (own or recs)[0]
        runs.append(keep)
        name = Path(keep["_file"]).name
        bad += [f"{r['_file']}: the same config and seed as {name}, counted once" for r in recs if r is not keep]
    return sorted(runs, key=lambda r: r["_file"]), bad


# {(overrides, scale): identity} of every preset composed in this process, and {(group overrides, scale):
# config} of each composed base: make reproduce's reports ask ~300 times for ~150 presets, which share ~20
# bases (an experiment, a model, a task) and differ in plain values (a width, a learning rate, a length)
_IDENTITIES: dict[tuple, str] = {}
_BASES: dict[tuple, object] = {}


def _split(overrides: tuple) -> tuple[tuple, list] | None:
    """(the overrides that choose configs, the plain ``key=value`` ones as Hydra parses them), or None when
    one is neither (an addition, a deletion, a package): that preset is composed whole."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    groups, values = [], []
    for text, o in zip(overrides, OverridesParser.create().parse_overrides(list(overrides)), strict=True):
        if o.is_delete() or o.is_add() or o.is_force_add() or o.package is not None:
            return None
        group = "/" in o.key_or_group or (Path(CONFIGS) / o.key_or_group.replace(".", "/")).is_dir()
        (groups.append(text) if group else values.append(o))
    return tuple(groups), values


def _compose(overrides: tuple, scale: str, compose) -> dict:
    """The resolved config of a preset as ``minrnn-train <overrides> scale=<scale>`` composes it: its base
    (the config-choosing overrides) composed once, then each plain override applied as Hydra applies it
    (OmegaConf.update(..., merge=True), after the defaults) -- the same config, tested against composing
    whole in tests/test_runs.py."""
    import copy

    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    split = _split(overrides)
    if split is None:
        return OmegaConf.to_container(compose("train", [*overrides, f"scale={scale}"]), resolve=True)
    groups, values = split
    if (groups, scale) not in _BASES:
        _BASES[groups, scale] = compose("train", [*groups, f"scale={scale}"])
    cfg = copy.deepcopy(_BASES[groups, scale])
    try:
        for o in values:
            OmegaConf.update(cfg, o.key_or_group, o.value(), merge=True)
    except OmegaConfBaseException:  # not a key of the config: Hydra's own message, from composing whole
        return OmegaConf.to_container(compose("train", [*overrides, f"scale={scale}"]), resolve=True)
    return OmegaConf.to_container(cfg, resolve=True)


def preset_identities(presets: dict, scale: str) -> dict:
    """{key: identity} of each preset (a list of overrides) composed at ``scale`` as minrnn-train would."""
    todo = {tuple(o) for o in presets.values() if (tuple(o), scale) not in _IDENTITIES}
    if todo:
        from hydra import compose, initialize_config_dir

        register_resolvers()
        with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
            for overrides in sorted(todo):
                _IDENTITIES[overrides, scale] = identity(_compose(overrides, scale, compose))
    return {key: _IDENTITIES[tuple(overrides), scale] for key, overrides in presets.items()}


def match(runs: list[dict], presets: dict, scale: str) -> tuple[dict, list[dict]]:
    """({key: runs of that preset}, runs of no preset) -- each preset's runs are its seeds. Presets keyed
    (model, ...) are composed only when a run of that model exists (composing takes ~0.15 s)."""
    models = {r["config"]["model"]["name"] for r in runs}
    wanted = {k: o for k, o in presets.items() if not (isinstance(k, tuple) and k[0] in NAMES and k[0] not in models)}
    ids = preset_identities(wanted, scale) if runs else {}
    cells = {key: [r for r in runs if r["_identity"] == i] for key, i in ids.items()}
    return {k: rs for k, rs in cells.items() if rs}, [r for r in runs if r["_identity"] not in ids.values()]


def unfinished_runs(runs_dir: Path, results_folder: Path) -> list[str]:
    """Run directories (checkpoint or metrics log) with no summary in results: failed or still running."""
    if not Path(runs_dir).is_dir():
        return []
    found = {p.parent for pattern in ("checkpoint.pt", "metrics.jsonl") for p in Path(runs_dir).glob(f"*/{pattern}")}
    return sorted(d.name for d in found if not (Path(results_folder) / f"{d.name}.json").exists())


def gather(args, script: str, key: str, folders: dict[str, dict], list_ignored: bool = True) -> tuple[dict, str]:
    """({preset key: its runs}, the table note's sentences on what was left out) over results folders:
    ``folders`` maps each one under ``args.results`` (at ``args.scale``) to its presets. A run of
    another config is named as ignored unless ``list_ignored`` is False (a folder other tables share)."""
    cells, bad, ignored, pending = {}, [], [], []
    for sub, presets in folders.items():
        folder = args.results / sub / args.scale
        runs, b = load_runs(folder, args.scale, key)
        found, ign = match(runs, presets, args.scale)
        cells, bad, ignored = cells | found, bad + b, ignored + (ign if list_ignored else [])
        pending += [f"{sub}/{args.scale}/{n}" for n in unfinished_runs(args.runs / sub / args.scale, folder)]
    return cells, caveats(script, bad, ignored, pending)


def caveats(script: str, bad: list[str], ignored: list[dict], pending: list[str] = ()) -> str:
    """Sentences (with a leading space) for a table's note about files left out, also printed to stderr."""
    parts = []
    if bad:
        parts.append(f"Left out as bad: {'; '.join(bad)}.")
    if ignored:
        parts.append(f"Ignored, another config than the presets': {', '.join(Path(r['_file']).name for r in ignored)}.")
    if pending:
        parts.append(f"Runs with a checkpoint but no summary (failed, stopped or still running): {', '.join(pending)}.")
    for p in parts:
        print(f"{script}: note: {p}", file=sys.stderr)
    return "".join(" " + p for p in parts)


def training_seconds(run: dict) -> float:
    """A run's time in training, every stretch of it (a resumed run's summary also has its earlier ones);
    runs from before stretches were recorded have only the time of their last process."""
    m = run["metrics"]
    return m["train_seconds_all_stretches"] if "train_seconds_all_stretches" in m else run["wall_seconds"]


def time_note(runs: list[dict]) -> str:
    """'N runs, H h of training (M-M min per run)', every stretch of each run; runs made before stretches
    were recorded count only their last process (a resumed one is then longer than shown), and say so."""
    minutes = sorted(training_seconds(r) / 60 for r in runs)
    lo, hi = f"{minutes[0]:.1f}", f"{minutes[-1]:.1f}"
    per = f"{lo} min" if lo == hi else f"{lo}-{hi} min"
    old = sum("train_seconds_all_stretches" not in r["metrics"] for r in runs)
    note = f"{len(runs)} run{'s' if len(runs) != 1 else ''}, {sum(minutes) / 60:.2f} h of training ({per} per run)"
    return note + (f"; {old} of them from before stretches were recorded: their last process only" if old else "")


def n_steps(runs: list[dict]) -> str:
    """The training steps behind a cell, e.g. "30000 steps, n=3" ("2500/10000 steps" if they differ)."""
    steps = sorted({r["metrics"]["steps"] for r in runs})
    return f"{'/'.join(map(str, steps))} steps, n={len(runs)}"


def cell(runs: list[dict], key: str, scale: float = 1.0) -> dict:
    """Mean, sample std (nan for one run) and n of the ``key`` metric (times ``scale``) over runs."""
    values = [scale * metric(r, key) for r in runs]
    return {
        "mean": statistics.fmean(values),
        "n": len(values),
        "files": [r["_file"] for r in runs],
        "std": statistics.stdev(values) if len(values) > 1 else float("nan"),
    }
