"""Table 3 (Section 4.2): D4RL-normalised scores of the decision models, from the run summaries in results/.

Reads results/d4rl/<env>-<dataset>/<scale>/*.json (written by minrnn-train with task=d4rl), averages
each (model, dataset) over seeds (mean ± std, n) and prints our columns beside the paper's (its
minLSTM/minGRU and the DT, DS4, DAaren, DMamba numbers it quotes). The average row needs all nine
datasets. ``--demo`` reads results/d4rl-demo/ instead: runs on locally generated data (make
reproduce-table3-demo), whose scores are NOT comparable to Table 3 and are printed without the paper.
Writes results/tables/table3_<scale>.{md,tex} (or table3_demo_<scale>).

    python scripts/make_table3.py --scale paper
    python scripts/make_table3.py --demo
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

ENV_NAMES = {"halfcheetah": "HalfCheetah", "hopper": "Hopper", "walker2d": "Walker"}
DATASET_NAMES = {"medium": "M", "medium_replay": "M-R", "medium_expert": "M-E"}
MODELS = ["minlstm", "mingru", "lstm", "gru", "mamba", "transformer"]
PAPER_COLUMNS = ["DT", "DS4", "DAaren", "DMamba", "minLSTM", "minGRU"]


def label(key: str) -> str:
    env, _, dataset = key.partition("-")
    return f"{ENV_NAMES.get(env, env)}-{DATASET_NAMES.get(dataset, dataset)}" if dataset else ENV_NAMES.get(env, env)


def collect(root: Path, runs_dir: Path, scale: str) -> tuple[dict, list[str], list[dict]]:
    """{(model, dataset key): cell}, unfinished runs, every run loaded; root = results/d4rl[-demo]."""
    cells, pending, everything = {}, [], []
    for folder in sorted(p / scale for p in root.iterdir() if (p / scale).is_dir()) if root.is_dir() else []:
        key = folder.parent.name
        runs = [r for r in load_runs(folder, scale) if "score" in r["metrics"].get("final", {})]
        everything += runs
        pending += [f"{key}/{n}" for n in unfinished_runs(runs_dir / root.name / key / scale, folder)]
        for (model, _depth, _digest), rs in by_setting(runs).items():
            if (model, key) in cells:
                raise ResultsError(f"{model} on {key} has runs of different configs ({rs[0]['_file']} vs "
                                   f"{cells[model, key]['files'][0]}); they are never averaged together")  # fmt: skip
            cells[model, key] = cell([r["metrics"]["final"]["score"] for r in rs], rs)
            cells[model, key]["rollout"] = sorted({r["metrics"]["final"].get("rollout", "?") for r in rs})
    return cells, pending, everything


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=["cpu", "paper"], default="cpu")
    ap.add_argument("--demo", action="store_true", help="the runs on locally generated data (results/d4rl-demo)")
    ap.add_argument("--results", type=Path, default=ROOT / "results", help="where the run summaries are")
    ap.add_argument("--runs", type=Path, help="run directories, to report unfinished runs (default: RESULTS/../runs)")
    ap.add_argument("--out", type=Path, help="where to write the table (default: RESULTS/tables)")
    args = ap.parse_args(argv)
    paper = json.loads((ROOT / "results/paper_reference.json").read_text())["table3_d4rl"]
    root = args.results / ("d4rl-demo" if args.demo else "d4rl")
    try:
        cells, pending, runs = collect(root, args.runs or args.results.parent / "runs", args.scale)
        if not cells:
            target = "reproduce-table3-demo" if args.demo else "reproduce-table3"
            raise ResultsError(f"no finished run summaries in {root}/*/{args.scale}; run "
                               f"`make {target} SCALE={args.scale}` first")  # fmt: skip
    except ResultsError as e:
        print(f"make_table3: error: {e}", file=sys.stderr)
        return 2
    models = [m for m in MODELS if any(k[0] == m for k in cells)]
    final = runs[0]["metrics"]["final"]
    rollouts = sorted({f"{NAMES[m]}: {'/'.join(c['rollout'])}" for (m, _), c in cells.items()})
    note = (f"scale={args.scale}; D4RL-normalised return (100 = expert) of {final['eval_episodes']} episodes in "
            f"Gymnasium {final['gym_id'].split('-')[-1]} environments at DT's first target return, mean ± std over "
            f"seeds (n). Rollouts: {', '.join(rollouts)}.")  # fmt: skip
    if args.demo:
        note = ("**Demo on locally generated data (a noisy random linear policy in Gymnasium), not D4RL: these "
                "scores are NOT comparable to the paper's Table 3.** " + note)  # fmt: skip
        keys = sorted({k for _, k in cells})
        header = ["Dataset", *(f"{NAMES[m]} (ours)" for m in models)]
    else:
        keys = paper["datasets"]
        header = ["Dataset", *(f"{c} (paper)" for c in PAPER_COLUMNS), *(f"{NAMES[m]} (ours)" for m in models)]
    if pending:
        note += f" Runs with a checkpoint but no summary (failed, stopped or still running): {', '.join(pending)}."
    rows = []
    for key in keys:
        ours = [fmt_cell(cells.get((m, key)), 1) for m in models]
        theirs = [] if args.demo else [f"{paper['mean'][c][key]:.1f}" for c in PAPER_COLUMNS]
        rows.append([label(key), *theirs, *ours])
    if not args.demo:
        avg = [f"{statistics.fmean(c['mean'] for (mm, _), c in cells.items() if mm == m):.1f}"
               if all((m, k) in cells for k in keys) else "- (needs all 9)" for m in models]  # fmt: skip
        rows.append(["Average", *(f"{paper['average'][c]:.1f}" for c in PAPER_COLUMNS), *avg])
    name = f"table3_demo_{args.scale}" if args.demo else f"table3_{args.scale}"
    title = "## Table 3 (demo data, not D4RL)" if args.demo else "## Table 3: offline RL on D4RL"
    write_table(args.out or args.results / "tables", name, title, note, header, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
