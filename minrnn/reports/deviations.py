"""docs/deviations.md, from the presets as they compose: every setting the paper states
(configs/paper_settings.yaml, with its v1 and v3 sections) is compared with what each preset of that
experiment composes to at scale=paper and scale=cpu, and every difference must be declared in
configs/deviations.yaml (with the source of our value and why), or the report is refused naming the
setting (scripts/make_deviations.py; tests/test_deviations.py).
"""

from __future__ import annotations

from fnmatch import fnmatch
from functools import cache
from pathlib import Path

from omegaconf import OmegaConf

from minrnn.files import write_text
from minrnn.harness.config import CONFIGS, SCALES, register_resolvers
from minrnn.harness.schema import _get
from minrnn.reader import read_text
from minrnn.reports.runs import ROOT

MISSING = object()  # a key a preset's config does not have (a Transformer's positions in an RNN's config)


class UndeclaredDeviation(ValueError):
    """A composed setting differs from the paper's and configs/deviations.yaml does not declare it."""


def paper_settings() -> dict:
    """{experiment: {title, presets, settings: [{key, value | stated, v1, v3 | where, only?}]}}."""
    return OmegaConf.to_container(OmegaConf.create(read_text(Path(CONFIGS) / "paper_settings.yaml")))


def _declared_file() -> dict:
    return OmegaConf.to_container(OmegaConf.create(read_text(Path(CONFIGS) / "deviations.yaml")))


def deviations() -> list[dict]:
    """[{preset, key, scale?, paper?, ours?, source, why}]: ``preset`` and ``key`` one or a list (fnmatch
    patterns over the compared presets); ``scale`` paper or cpu (both when absent); ``paper`` the paper's
    words (else its stated value); ``ours`` for a setting the code fixes, not a config key."""
    return _declared_file()["rows"]


def not_compared() -> list[dict]:
    """[{preset, why}]: the presets no experiment of configs/paper_settings.yaml compares, and why."""
    return _declared_file().get("not_compared", [])


def presets_on_disk() -> list[str]:
    """Every preset ``experiment=<name>`` can name: the YAML files under configs/experiment/."""
    root = Path(CONFIGS) / "experiment"
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.yaml"))


def uncompared(settings: dict, skipped: list[dict], on_disk: list[str]) -> list[str]:
    """Presets on disk that no experiment compares and ``not_compared`` does not name (a preset added
    would otherwise escape every comparison), and ``not_compared`` rows naming none or a compared one."""
    compared = {p for e in settings.values() for p in e["presets"]}
    found = [
        f"experiment={p}: compared by no experiment of configs/paper_settings.yaml and not in "
        "configs/deviations.yaml's not_compared"
        for p in on_disk
        if p not in compared and not any(covers(s, p) for s in skipped)
    ]
    for s in skipped:
        hits = [p for p in on_disk if covers(s, p)]
        if not hits or any(p in compared for p in hits):
            both = ", ".join(p for p in hits if p in compared)
            what = f"names compared presets ({both})" if hits else "names no preset"
            found.append(f"configs/deviations.yaml: not_compared {s['preset']!r} {what}")
    return found


def _listed(x) -> list:
    """One or a list (whose items may be lists: the YAML's aliases), as one flat list."""
    return [y for v in x for y in _listed(v)] if isinstance(x, list) else [x]


def covers(row: dict, preset: str) -> bool:
    return any(fnmatch(preset, p) for p in _listed(row["preset"]))


@cache
def _composed(preset: str, scale: str) -> dict:
    from hydra import compose, initialize_config_dir

    register_resolvers()
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose("train", [f"experiment={preset}", f"scale={scale}"])
    return OmegaConf.to_container(cfg, resolve=True)


def composed(preset: str, scale: str) -> dict:
    """The resolved config of ``experiment=<preset> scale=<scale>``, as minrnn-train composes it."""
    return _composed(preset, scale)


def value(config: dict, key: str):
    """``config``'s dotted ``key``, MISSING where it has none."""
    return _get(config, key, MISSING)


def _same(ours, paper) -> bool:
    if isinstance(paper, bool) or isinstance(ours, bool):
        return type(ours) is type(paper) and ours == paper
    if isinstance(paper, dict) and isinstance(ours, dict):
        return paper.keys() == ours.keys() and all(_same(ours[k], paper[k]) for k in paper)
    if isinstance(paper, list) and isinstance(ours, list):
        return len(paper) == len(ours) and all(_same(a, b) for a, b in zip(ours, paper, strict=True))
    return ours == paper


def applies(setting: dict, preset: str) -> bool:
    return any(fnmatch(preset, p) for p in setting.get("only", ["*"]))


def declared(rows: list[dict], preset: str, key: str, scale: str) -> dict | None:
    for row in rows:
        if key in _listed(row["key"]) and covers(row, preset) and row.get("scale", scale) == scale:
            return row
    return None


def where(setting: dict) -> str:
    if "where" in setting:
        return setting["where"]
    return "; ".join(f"{v} {setting[v]}" for v in ("v1", "v3") if setting[v] != "-") + (
        " (not in v1)" if setting["v1"] == "-" else ""
    )


def undeclared(settings: dict, rows: list[dict], compose=composed) -> list[str]:
    """Each composed setting that differs from the paper's stated value with no row declaring it."""
    found = []
    for experiment in settings.values():
        theirs = "the reference's" if "reference" in experiment else "the paper's"
        for preset in experiment["presets"]:
            for scale in SCALES:
                config = compose(preset, scale)
                for s in experiment["settings"]:
                    if "value" not in s or not applies(s, preset):
                        continue
                    ours = value(config, s["key"])
                    if not _same(ours, s["value"]) and declared(rows, preset, s["key"], scale) is None:
                        got = "absent" if ours is MISSING else repr(ours)
                        found.append(
                            f"experiment={preset} scale={scale}: {s['key']}={got} differs from {theirs} "
                            f"{s['value']!r} ({where(s)}) and configs/deviations.yaml does not declare it"
                        )
    return found


def unmatched(settings: dict, rows: list[dict], compose=composed) -> list[str]:
    """Rows of configs/deviations.yaml that name none of the compared presets, or that declare a
    difference from a value the paper states which none of their presets has (at the row's scales)."""
    presets = [p for e in settings.values() for p in e["presets"]]
    found = [
        f"configs/deviations.yaml: preset {r['preset']!r} ({r['key']}) matches none of "
        "configs/paper_settings.yaml's presets"
        for r in rows
        if not any(covers(r, p) for p in presets)
    ]
    for r in rows:
        for key in _listed(r["key"]):
            compared = [
                _same(value(compose(p, sc), key), s["value"])
                for e in settings.values()
                for s in e["settings"]
                if s["key"] == key and "value" in s
                for p in e["presets"]
                if covers(r, p) and applies(s, p)
                for sc in SCALES
                if r.get("scale", sc) == sc
            ]
            if compared and all(compared):
                found.append(f"configs/deviations.yaml: {key} of {r['preset']!r} is the paper's value: no deviation")
    return found


def shown(values: list) -> str:
    """The distinct values of a setting over the presets a row covers, in order."""
    distinct = []
    for v in values:
        if v is not MISSING and v not in distinct:
            distinct.append(v)
    return " / ".join(f"`{v}`" for v in distinct) if distinct else "—"


def stated(settings: dict, key: str, presets: list[str]) -> str:
    """The paper's stated value of ``key`` for the first of ``presets`` that states it, with where."""
    for experiment in settings.values():
        for s in experiment["settings"]:
            if s["key"] == key and any(p in experiment["presets"] and applies(s, p) for p in presets):
                return (f"`{s['value']}`" if "value" in s else s["stated"]) + f" ({where(s)})"
    return "not given"


def _cell(text) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def report(settings: dict, rows: list[dict], compose=composed, skipped=None, on_disk=None) -> str:
    """docs/deviations.md; raises UndeclaredDeviation naming every undeclared difference, and every preset
    on disk (``on_disk``, default presets_on_disk()) neither compared nor in ``skipped`` (not_compared())."""
    skipped = not_compared() if skipped is None else skipped
    on_disk = presets_on_disk() if on_disk is None else on_disk
    problems = uncompared(settings, skipped, on_disk)
    problems += undeclared(settings, rows, compose) + unmatched(settings, rows, compose)
    if problems:
        raise UndeclaredDeviation("; ".join(problems))
    presets = [p for e in settings.values() for p in e["presets"]]
    lines = [
        "# Where the presets differ from the paper",
        "",
        "Generated by `python scripts/make_deviations.py` (`make docs`) from the presets as they compose, "
        "`configs/paper_settings.yaml` (the settings the paper states, with their sections in v1 and v3) and "
        "`configs/deviations.yaml` (each deviation, the source of our value, and why). A composed setting "
        "that differs from the paper's stated value and is not declared stops the generator, naming it "
        "(`tests/test_deviations.py`). Where the paper and the authors' code (BorealisAI/minRNNs) disagree "
        "the code is the default and the paper's variant an override; every run records its full config. "
        "`scale=cpu` keeps the settings its committed runs were made with (a changed setting is a new run "
        "identity).",
        "",
        "## Declared deviations",
        "",
        "| presets | setting | the paper | ours (scale=paper) | scale=cpu | source of ours | why |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        matched = [p for p in presets if covers(r, p)]
        for key in _listed(r["key"]):
            cells = [
                (r["ours"] if "ours" in r else shown([value(compose(p, sc), key) for p in matched]))
                if r.get("scale", sc) == sc
                else "as the paper"
                for sc in SCALES
            ]
            paper = r["paper"] if "paper" in r else stated(settings, key, matched)
            row = [", ".join(f"`{p}`" for p in _listed(r["preset"])), f"`{key}`", paper, *cells, r["source"], r["why"]]
            lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    lines += ["", "## The paper's stated settings", ""]
    for experiment in settings.values():
        lines += [f"### {experiment['title']}", ""]
        if "reference" in experiment:
            lines += [f"Reference: {experiment['reference']}.", ""]
        names = ", ".join(f"`{p}`" for p in experiment["presets"]) or "none (benchmarks, scripts/bench_*.py)"
        lines += [f"Presets compared: {names}.", ""]
        lines += ["| setting | the paper | where | ours (scale=paper) | scale=cpu |", "|---|---|---|---|---|"]
        for s in experiment["settings"]:
            paper = f"`{s['value']}`" if "value" in s else s["stated"]
            ours = [
                shown([value(compose(p, sc), s["key"]) for p in experiment["presets"] if applies(s, p)])
                for sc in SCALES
            ]
            lines.append("| " + " | ".join(_cell(c) for c in [f"`{s['key']}`", paper, where(s), *ours]) + " |")
        lines.append("")
    lines += ["## Presets not compared", "", "| presets | why |", "|---|---|"]
    lines += [f"| {', '.join(f'`{p}`' for p in _listed(s['preset']))} | {_cell(s['why'])} |" for s in skipped]
    lines.append("")
    return "\n".join(lines)


def add_arguments(ap) -> None:
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "deviations.md")


def run(args, error=None) -> int:
    write_text(args.out, report(paper_settings(), deviations()))
    print(f"wrote {args.out}")
    return 0
