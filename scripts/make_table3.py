"""Table 3 (Section 4.2): D4RL-normalised scores of the decision models, from the run summaries in results/.

Cells are the presets experiment=table3/<model> task.env=<env> task.dataset=<dataset> in
results/d4rl/<env>-<dataset>/<scale>/, matched by config identity; mean ± std over seeds (n) beside
the paper's columns (its minLSTM/minGRU and the DT, DS4, DAaren, DMamba numbers it quotes).
The average row needs all nine datasets. ``--demo`` reads results/d4rl-demo/ instead: runs on
locally generated data (make reproduce-table3-demo, DEMO below), whose scores are NOT comparable
to Table 3 and are printed without the paper; they feed no claim.
Writes results/tables/table3_<scale>.{md,tex} (or table3_demo_<scale>).

    python scripts/make_table3.py --scale paper
    python scripts/make_table3.py --demo
"""

from __future__ import annotations

import statistics
import sys

from minrnn.harness import reporting

ENV_NAMES = {"halfcheetah": "HalfCheetah", "hopper": "Hopper", "walker2d": "Walker"}
DATASET_NAMES = {"medium": "M", "medium_replay": "M-R", "medium_expert": "M-E"}
ORDER = reporting.MODELS
PAPER_COLUMNS = ["DT", "DS4", "DAaren", "DMamba", "minLSTM", "minGRU"]
# make reproduce-table3-demo's settings (task.path is a location, not part of a run's identity)
DEMO = ["task.env=halfcheetah", "task.name=d4rl-demo/halfcheetah", "task.target_returns=[-300,-700]"]


def label(key: str) -> str:
    env, _, dataset = key.partition("-")
    return f"{ENV_NAMES.get(env, env)}-{DATASET_NAMES.get(dataset, dataset)}" if dataset else ENV_NAMES.get(env, env)


def collect(args, keys: list[str]) -> tuple[dict, str]:
    """{(model, dataset key): runs} of the presets, and the note on files left out."""
    root = "d4rl-demo" if args.demo else "d4rl"
    folders = {}
    for key in keys:
        env, _, dataset = key.partition("-")
        extra = DEMO if args.demo else [f"task.env={env}", f"task.dataset={dataset}"]
        folders[f"{root}/{key}"] = {(m, key): reporting.preset("table3", m, *extra) for m in reporting.MODELS}
    return reporting.gather(args, "make_table3", "final.score", folders)


def table3(args) -> None:
    paper = reporting.paper_reference("table3_d4rl")
    keys = ["halfcheetah"] if args.demo else paper["datasets"]
    runs, caveat = collect(args, keys)
    if not runs:
        target = "reproduce-table3-demo" if args.demo else "reproduce-table3"
        raise reporting.ResultsError(
            f"no finished run summaries of the presets in {args.results}/d4rl*/*/{args.scale}; run "
            f"`make {target} SCALE={args.scale}` first"
        )
    cells = {k: reporting.cell(rs, "final.score") for k, rs in runs.items()}
    models = [m for m in ORDER if any(k[0] == m for k in cells)]
    final = next(iter(runs.values()))[0]["metrics"]["final"]
    rollouts = sorted(
        {
            f"{reporting.NAMES[m]}: {'/'.join(sorted({r['metrics']['final'].get('rollout', '?') for r in rs}))}"
            for (m, _), rs in runs.items()
        }
    )
    note = (
        f"scale={args.scale}; D4RL-normalised return (100 = expert) of {final['eval_episodes']} episodes in "
        f"Gymnasium {final['gym_id'].split('-')[-1]} environments at DT's first target return, mean ± std over "
        f"seeds (n). Rollouts: {', '.join(rollouts)}."
    )
    if args.demo:
        note = (
            "**Demo on locally generated data (a noisy random linear policy in Gymnasium), not D4RL: these "
            "scores are NOT comparable to the paper's Table 3.** " + note
        )
    ours = [f"{reporting.NAMES[m]} (ours)" for m in models]
    header = ["Dataset", *([] if args.demo else [f"{c} (paper)" for c in PAPER_COLUMNS]), *ours]
    rows = []
    for key in keys:
        theirs = [] if args.demo else [f"{paper['mean'][c][key]:.1f}" for c in PAPER_COLUMNS]
        rows.append([label(key), *theirs, *(reporting.fmt_cell(cells.get((m, key)), 1) for m in models)])
    if not args.demo:
        avg = [
            f"{statistics.fmean(cells[m, k]['mean'] for k in keys):.1f}"
            if all((m, k) in cells for k in keys)
            else "- (needs all 9)"
            for m in models
        ]
        rows.append(["Average", *(f"{paper['average'][c]:.1f}" for c in PAPER_COLUMNS), *avg])
    name = f"table3_demo_{args.scale}" if args.demo else f"table3_{args.scale}"
    title = "## Table 3 (demo data, not D4RL)" if args.demo else "## Table 3: offline RL on D4RL"
    reporting.write_table(args.out, name, title, note + caveat, header, rows)


def main(argv=None) -> int:
    ap = reporting.script_args(__doc__)
    ap.add_argument("--demo", action="store_true", help="the runs on locally generated data (results/d4rl-demo)")
    return reporting.run_script("make_table3", table3, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
