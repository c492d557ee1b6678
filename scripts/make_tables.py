"""Tables 1 and 2 (selective copying) from the run summaries in results/, beside the paper's numbers.

Reads results/selective_copy/<scale>/*.json (one per run, written by minrnn-train), groups runs
that differ only in their seed, and prints mean +- std (sample std, ddof=1) over seeds with n.
The paper's values (results/paper_reference.json) sit in their own column; a run that is missing
shows as "missing", and run directories without a summary (failed or unfinished) are listed.
Refuses summaries without provenance, of another scale, or of different configs under one cell.
Writes Markdown and LaTeX to results/tables/.

    python scripts/make_tables.py --scale cpu
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from minrnn.records import RESULT_KEYS, write_text_atomic  # noqa: E402

NAMES = {"mingru": "minGRU", "minlstm": "minLSTM", "gru": "GRU", "lstm": "LSTM", "mamba": "Mamba",
         "transformer": "Transformer"}  # fmt: skip
IGNORED = ("seed", "paths", "logger", "run_name", "threads")  # keys that may differ between seeds of one setting


class ResultsError(ValueError):
    pass


def load_runs(folder: Path, scale: str) -> list[dict]:
    files = sorted(folder.glob("*.json"))
    runs = []
    for f in files:
        try:
            rec = json.loads(f.read_text())
        except json.JSONDecodeError as e:
            raise ResultsError(f"{f} is not valid JSON ({e}); rerun that run or remove the file") from None
        missing = [k for k in RESULT_KEYS if k not in rec]
        if missing or "git_commit" not in rec.get("provenance", {}):
            raise ResultsError(f"{f} lacks {', '.join(missing) or 'provenance.git_commit'}: not a minrnn-train "
                               "summary; remove it or rerun the run that wrote it")  # fmt: skip
        if rec["scale"] != scale:
            raise ResultsError(f"{f} is a scale={rec['scale']} run inside the scale={scale} folder")
        rec["_file"] = str(f)
        runs.append(rec)
    return runs


def unfinished_runs(runs_dir: Path, results_folder: Path) -> list[str]:
    """Run directories (checkpoint or metrics log) with no summary in results: failed or still running."""
    if not runs_dir.is_dir():
        return []
    found = {p.parent for pattern in ("checkpoint.pt", "metrics.jsonl") for p in runs_dir.glob(f"*/{pattern}")}
    return sorted(d.name for d in found if not (results_folder / f"{d.name}.json").exists())


def setting(rec: dict) -> tuple[str, int, str]:
    """(model, depth, hash of the config except the seed): runs with equal keys are averaged."""
    cfg = rec["config"]
    shared = {k: v for k, v in cfg.items() if k not in IGNORED}
    shared["trainer"] = {k: v for k, v in cfg["trainer"].items() if k not in ("progress",)}
    shared["task"] = {k: v for k, v in cfg["task"].items() if k != "seed"}
    digest = hashlib.sha256(json.dumps(shared, sort_keys=True).encode()).hexdigest()[:8]
    return cfg["model"]["name"], cfg["task"]["arch"]["depth"], digest


def by_setting(runs: list[dict]) -> dict[tuple[str, int, str], list[dict]]:
    """Runs grouped by ``setting``: the seeds of one configuration."""
    groups: dict[tuple[str, int, str], list[dict]] = {}
    for r in runs:
        groups.setdefault(setting(r), []).append(r)
    return groups


def cell(values: list[float], runs: list[dict]) -> dict:
    """Mean, sample std (nan for one run) and n of one table cell, with the files it came from."""
    return {"mean": statistics.fmean(values), "n": len(values), "files": [r["_file"] for r in runs],
            "std": statistics.stdev(values) if len(values) > 1 else float("nan")}  # fmt: skip


def fmt_cell(c: dict | None, digits: int = 2) -> str:
    """ "mean ± std (n=k)", or "-" for a missing cell."""
    if c is None:
        return "-"
    std = "" if c["n"] < 2 else f" ± {c['std']:.{digits}f}"
    return f"{c['mean']:.{digits}f}{std} (n={c['n']})"


def aggregate(runs: list[dict]) -> dict[tuple[str, int], dict]:
    groups: dict[tuple[str, int, str], list[dict]] = {}
    for r in runs:
        groups.setdefault(setting(r), []).append(r)
    out: dict[tuple[str, int], dict] = {}
    for (model, depth, _digest), rs in groups.items():
        if (model, depth) in out:
            raise ResultsError(f"{model} with {depth} layers has runs of different configs "
                               f"({out[model, depth]['files'][0]} vs {rs[0]['_file']}); they are never averaged "
                               "together: move one set out of the folder")  # fmt: skip
        accs = [100 * r["metrics"]["test_acc"] for r in rs]
        out[model, depth] = {
            "mean": statistics.fmean(accs),
            "std": statistics.stdev(accs) if len(accs) > 1 else float("nan"),
            "n": len(accs),
            "seeds": sorted(r["seed"] for r in rs),
            "files": [r["_file"] for r in rs],
            "config": rs[0]["config"],
            "implementation": rs[0].get("implementation", ""),
            "wall_seconds": sum(r["wall_seconds"] for r in rs),
        }
    return out


def plot_curves(runs: list[dict], path: Path, title: str) -> None:
    """Validation accuracy against step, one line per (model, depth): mean over seeds, min-max band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves: dict[tuple[str, int], list[list[dict]]] = {}
    for r in runs:
        key = (r["config"]["model"]["name"], r["config"]["task"]["arch"]["depth"])
        curves.setdefault(key, []).append(r["metrics"]["val_history"])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    models = sorted({m for m, _ in curves})
    for (model, depth), hists in sorted(curves.items()):
        n = min(len(h) for h in hists)
        steps = [h["step"] for h in hists[0][:n]]
        accs = [[100 * h["val_acc"] for h in hist[:n]] for hist in hists]
        mean = [statistics.fmean(col) for col in zip(*accs, strict=True)]
        style = {"color": f"C{models.index(model) % 10}", "linestyle": {1: ":", 2: "--"}.get(depth, "-")}
        ax.plot(steps, mean, label=f"{NAMES.get(model, model)}, {depth} layer{'s' * (depth > 1)} (n={len(hists)})",
                **style)  # fmt: skip
        ax.fill_between(steps, [min(c) for c in zip(*accs, strict=True)], [max(c) for c in zip(*accs, strict=True)],
                        color=style["color"], alpha=0.12)  # fmt: skip
    ax.set(xlabel="training step", ylabel="validation accuracy (%)", ylim=(0, 100))
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "pdf"):
        fig.savefig(path.with_suffix(f".{ext}"), bbox_inches="tight", dpi=150)
    plt.close(fig)


def fmt(cell: dict | None) -> str:
    if cell is None:
        return "missing"
    std = "" if cell["n"] < 2 else f" ± {cell['std']:.1f}"
    return f"{cell['mean']:.1f}{std} (n={cell['n']})"


def paper_fmt(v) -> str:
    return f"{v[0]:.1f} ± {v[1]:.1f}" if isinstance(v, list) else f"{v:.1f}"


def describe(agg: dict, scale: str) -> str:
    """The setting the numbers come from, read from the runs' own configs."""
    if not agg:
        return f"scale={scale}: no runs found."
    cfg = next(iter(agg.values()))["config"]
    t, tr = cfg["task"], cfg["trainer"]
    hours = sum(c["wall_seconds"] for c in agg.values()) / 3600
    return (f"scale={scale}: {t['seq_len']} noise tokens + {t['num_tokens']} data tokens to copy "
            f"(input length {t['seq_len'] + t['num_tokens']}), vocabulary {t['vocab_size']}, width {t['arch']['dim']}, "
            f"{tr['max_steps']} steps, batch {tr['batch_size']}, {tr['optimizer']} lr {tr['lr']}; "
            f"test accuracy (%) of the best validation checkpoint, mean ± std over seeds (n runs). "
            f"Total training time of these runs: {hours:.2f} h.")  # fmt: skip


def table1(agg: dict, paper: dict) -> list[list[str]]:
    rows = []
    for model in ("minlstm", "mingru"):
        for depth in (1, 2, 3):
            rows.append([NAMES[model], str(depth), fmt(agg.get((model, depth))),
                         paper_fmt(paper["table1_selective_copy_layers"][NAMES[model]][str(depth)])])  # fmt: skip
    return rows


def table2(agg: dict, paper: dict) -> list[list[str]]:
    rows = []
    paper_rows = paper["table2_selective_copy"]["rows"]
    for r in paper_rows:
        if r["model"] in ("minGRU", "minLSTM"):
            continue
        rows.append([r["model"], r["layer"], "not run (quoted by the paper from the Mamba paper)",
                     paper_fmt(r["accuracy"])])  # fmt: skip
    for model in ("mingru", "minlstm", "mamba", "gru", "lstm", "transformer"):
        cell = agg.get((model, 3))
        quoted = {"mingru": [99.5, 0.2], "minlstm": [96.0, 2.8], "mamba": 99.8}.get(model)
        layer = NAMES[model] if model != "mamba" else "S6" + (f" ({cell['implementation']})" if cell else "")
        rows.append([f"{NAMES[model]} (ours)", layer, fmt(cell), paper_fmt(quoted) if quoted else "not in the paper"])
    return rows


def markdown(title: str, note: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [f"## {title}", "", note, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_table(out: Path, name: str, title: str, note: str, header: list[str], rows: list[list[str]]) -> None:
    """A titled Markdown table with its note as out/name.md, the same rows as out/name.tex; printed."""
    md = "\n".join([title, "", note, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                   + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"  # fmt: skip
    write_text_atomic(out / f"{name}.md", md)
    write_text_atomic(out / f"{name}.tex", latex(header, rows))
    print(md)


def latex(header: list[str], rows: list[list[str]]) -> str:
    esc = lambda s: s.replace("±", r"$\pm$").replace("_", r"\_").replace("%", r"\%")  # noqa: E731
    lines = [r"\begin{tabular}{" + "l" * len(header) + "}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
    lines += [" & ".join(esc(c) for c in r) + r" \\" for r in rows]
    return "\n".join([*lines, r"\bottomrule", r"\end{tabular}"]) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=["cpu", "paper"], default="cpu")
    ap.add_argument("--results", type=Path, default=ROOT / "results", help="where the run summaries are")
    ap.add_argument("--out", type=Path, default=None, help="where to write the tables (default: RESULTS/tables)")
    ap.add_argument("--runs", type=Path, help="run directories, to report unfinished runs (default: RESULTS/../runs)")
    args = ap.parse_args(argv)
    folder = args.results / "selective_copy" / args.scale
    paper = json.loads((ROOT / "results/paper_reference.json").read_text())
    try:
        if not folder.is_dir() or not any(folder.glob("*.json")):
            raise ResultsError(f"no run summaries in {folder}; run `make reproduce-table1 SCALE={args.scale}` first")
        runs = load_runs(folder, args.scale)
        agg = aggregate(runs)
    except ResultsError as e:
        print(f"make_tables: error: {e}", file=sys.stderr)
        return 2
    note = describe(agg, args.scale)
    pending = unfinished_runs((args.runs or args.results.parent / "runs") / "selective_copy" / args.scale, folder)
    if pending:
        note += f" Runs with a checkpoint but no summary (failed, stopped or still running): {', '.join(pending)}."
        print(f"make_tables: note: {len(pending)} unfinished or failed runs: {', '.join(pending)}", file=sys.stderr)
    h1 = ["Model", "# Layers", f"Accuracy, ours ({args.scale})", "Accuracy, paper (Table 1)"]
    h2 = ["Model", "Layer", f"Accuracy, ours ({args.scale})", "Accuracy, paper (Table 2)"]
    out = args.out or args.results / "tables"
    specs = [
        ("table1", "Table 1: selective copying by number of layers", h1, table1(agg, paper)),
        ("table2", "Table 2: selective copying", h2, table2(agg, paper)),
    ]
    dev = runs[0]["provenance"].get("device_name", "device not recorded")
    plot_curves(runs, out / f"selective_copy_curves_{args.scale}", f"Selective copying, scale={args.scale} ({dev})")
    for name, title, header, rows in specs:
        md = markdown(title, note, header, rows)
        print(md)
        write_text_atomic(out / f"{name}_{args.scale}.md", md)
        write_text_atomic(out / f"{name}_{args.scale}.tex", latex(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
