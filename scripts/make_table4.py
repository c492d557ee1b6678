"""Table 4 (Appendix D): Chomsky-hierarchy and counting tasks, from the run summaries in results/.

Reads results/chomsky/<problem>/<scale>/*.json (written by minrnn-train), averages each (model,
problem) over seeds (mean +- std, n), and prints our rows beside the paper's (its minLSTM row and the
baselines it quotes from the xLSTM paper), each labelled. Accuracy is the authors' raw accuracy on
evaluation lengths 40..256 after training on lengths up to 40; the LRA columns read results/lra/<task>/
(untagged runs only: the default architecture). Writes results/tables/table4_<scale>.{md,tex}.

    python scripts/make_table4.py --scale cpu
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.make_tables import NAMES, ResultsError, by_setting, cell, fmt_cell, load_runs, unfinished_runs, write_table  # noqa: E402

COLUMNS = {"bucket_sort": "Bucket Sort", "missing_duplicate": "Missing Dup.", "cycle_nav": "Cycle Nav.",
           "even_pairs": "Even Pairs", "majority": "Majority", "majority_count": "Majority Count",
           "retrieval": "Retrieval", "listops": "ListOps", "gimage": "G-Image"}  # fmt: skip
EXTRA = {"parity_check": "Parity (not in Table 4)"}
LRA = ("retrieval", "listops", "gimage")
PAPER_LRA_KEYS = {"retrieval": "retrieval", "listops": "listops", "gimage": "g_image"}


def folder_of(column: str) -> str:
    return f"lra/{column}" if column in LRA else f"chomsky/{column}"


MODELS = ["minlstm", "mingru", "lstm", "gru", "mamba", "transformer"]


def collect(results: Path, runs_dir: Path, scale: str) -> tuple[dict, list[str], list[dict]]:
    """{(model, problem): cell}, unfinished run names, and every run loaded."""
    cells, pending, everything = {}, [], []
    for problem in [*COLUMNS, *EXTRA]:
        folder = results / folder_of(problem) / scale
        if not folder.is_dir():
            continue
        # Table 4 is the default architecture: tagged runs (Table 6's ablations, Figure 5's biases) stay out
        runs = [r for r in load_runs(folder, scale) if not r["config"].get("tag")]
        everything += runs
        pending += [f"{problem}/{n}" for n in unfinished_runs(runs_dir / folder_of(problem) / scale, folder)]
        for (model, _depth, _digest), rs in by_setting(runs).items():
            if (model, problem) in cells:
                other = cells[model, problem]["files"][0]
                raise ResultsError(f"{model} on {problem} has runs of different configs ({rs[0]['_file']} vs "
                                   f"{other}); they are never averaged together")  # fmt: skip
            cells[model, problem] = cell([r["metrics"]["test_acc"] for r in rs], rs)
    return cells, pending, everything


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=["cpu", "paper"], default="cpu")
    ap.add_argument("--results", type=Path, default=ROOT / "results", help="where the run summaries are")
    ap.add_argument("--runs", type=Path, help="run directories, to report unfinished runs (default: RESULTS/../runs)")
    ap.add_argument("--out", type=Path, help="where to write the table (default: RESULTS/tables)")
    args = ap.parse_args(argv)
    paper = json.loads((ROOT / "results/paper_reference.json").read_text())["table4_chomsky_lra"]
    try:
        cells, pending, runs = collect(args.results, args.runs or args.results.parent / "runs", args.scale)
        if not cells:
            raise ResultsError(f"no run summaries in {args.results}/{{chomsky,lra}}/*/{args.scale}; run "
                               f"`make reproduce-table4 SCALE={args.scale}` first")  # fmt: skip
    except ResultsError as e:
        print(f"make_table4: error: {e}", file=sys.stderr)
        return 2
    notes = [f"scale={args.scale}; test accuracy of the best validation checkpoint, mean ± std over seeds (n). "
             "Paper rows are the paper's (minLSTM) and, as the paper does, the xLSTM paper's baselines; the "
             "average is over the nine columns, ours only where all nine exist."]  # fmt: skip
    chomsky = next((r["config"] for r in runs if r["config"]["task"]["name"].startswith("chomsky")), None)
    if chomsky:
        t, tr = chomsky["task"], chomsky["trainer"]
        notes.append(f"Chomsky: trained on lengths {t['train_lengths'][0]}-{t['train_lengths'][1]}, tested on "
                     f"{t['eval_lengths'][0]}-{t['eval_lengths'][1]} ({t['eval_batches']} x {t['eval_batch_size']} "
                     f"sequences), {t['arch']['depth']} layers, width {t['arch']['dim']}, conv {t['arch']['conv']}, "
                     f"{tr['max_steps']} steps of {tr['optimizer']} lr {tr['lr']}, "
                     f"batch {tr['batch_size']}.")  # fmt: skip
    for r in {r["config"]["task"]["name"]: r for r in runs if r["config"]["task"]["name"].startswith("lra")}.values():
        t, tr = r["config"]["task"], r["config"]["trainer"]
        lengths = f", expression lengths {t['min_length']}-{t['max_length']}" if "min_length" in t else ""
        notes.append(f"{t['name']}: {t['arch']['depth']} blocks of Conv4 + RNN + MLP, width {t['arch']['dim']}"
                     f"{lengths}, {tr['max_steps']} steps of {tr['optimizer']} lr {tr['lr']}, batch "
                     f"{tr['batch_size']}.")  # fmt: skip
    note = " ".join(notes)
    if pending:
        note += f" Runs with a checkpoint but no summary (failed, stopped or still running): {', '.join(pending)}."
    extra = [p for p in EXTRA if any(k[1] == p for k in cells)]
    header = ["Model", "source", *COLUMNS.values(), "Average", *(EXTRA[p] for p in extra)]
    rows = []
    for m in MODELS:
        if any((m, p) in cells for p in [*COLUMNS, *extra]):
            full = all((m, p) in cells for p in COLUMNS)
            avg = f"{statistics.fmean(cells[m, p]['mean'] for p in COLUMNS):.2f}" if full else "-"
            rows.append([NAMES[m], f"ours ({args.scale})", *(fmt_cell(cells.get((m, p))) for p in COLUMNS), avg,
                         *(fmt_cell(cells.get((m, p))) for p in extra)])  # fmt: skip
    for name, vals in paper["chomsky"].items():
        source = "paper" if name == "minLSTM" else "paper (from xLSTM)"
        lra = paper["lra"].get(name, {})
        vals = {**vals, **{c: lra[k] for c, k in PAPER_LRA_KEYS.items() if k in lra}}
        avg = f"{lra['average_of_nine']:.2f}" if "average_of_nine" in lra else "-"
        rows.append(
            [name, source, *(f"{vals[p]:.2f}" if p in vals else "-" for p in COLUMNS), avg, *("-" for _ in extra)]
        )
    write_table(
        args.out or args.results / "tables",
        f"table4_{args.scale}",
        "## Table 4: Chomsky hierarchy, counting tasks and Long Range Arena",
        note,
        header,
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
