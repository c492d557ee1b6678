"""Table 4 (Appendix D): Chomsky-hierarchy, counting and Long Range Arena tasks, from results/.

Cells are the presets experiment=table4/<model> task.problem=<problem> (results/chomsky/<problem>/)
and experiment=table4/lra_<model> [task=retrieval|gimage] (results/lra/<task>/), matched by config
identity; test accuracy of the best validation checkpoint, mean ± std over seeds (n), beside the
paper's rows (its minLSTM and the xLSTM paper's baselines it quotes), each labelled. Chomsky accuracy
is the authors' raw accuracy on lengths 40..256 after training on lengths up to 40. CPU-scale cells
(6,000 Chomsky steps against the paper's 500k, ListOps lengths 100-300) feed the claim table4-chomsky
(make claims), except where the 30,000-step runs of experiment=claims/chomsky_long_minlstm exist
(cycle_nav): those decide their task's cell of the claim. Writes results/tables/table4_<scale>.{md,tex}.

    python scripts/make_table4.py --scale cpu
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from minrnn.harness import reporting
from minrnn.harness.config import CONFIGS

COLUMNS = {
    "bucket_sort": "Bucket Sort",
    "missing_duplicate": "Missing Dup.",
    "cycle_nav": "Cycle Nav.",
    "even_pairs": "Even Pairs",
    "majority": "Majority",
    "majority_count": "Majority Count",
    "retrieval": "Retrieval",
    "listops": "ListOps",
    "gimage": "G-Image",
}
EXTRA = {"parity_check": "Parity (not in Table 4)"}
LRA = ("retrieval", "listops", "gimage")
PAPER_LRA_KEYS = {"retrieval": "retrieval", "listops": "listops", "gimage": "g_image"}
ORDER = reporting.MODELS


def preset(model: str, column: str) -> list[str]:
    """A cell's overrides: the model's preset where one exists, else the table's template with the model."""
    if column not in LRA:
        return reporting.preset("table4", model, f"task.problem={column}")
    task = [f"task={column}"] if column != "listops" else []
    if (Path(CONFIGS) / "experiment" / "table4" / f"lra_{model}.yaml").exists():
        return [f"experiment=table4/lra_{model}", *task]
    return ["experiment=table4_lra", f"model={model}", *task]


def setting_note(cells: dict, scale: str) -> str:
    notes = [
        f"scale={scale}; test accuracy of the best validation checkpoint, mean ± std over seeds (n). "
        "Paper rows are the paper's (minLSTM) and, as the paper does, the xLSTM paper's baselines; the "
        "average is over the nine columns, ours only where all nine exist."
    ]
    chomsky = next((rs[0]["config"] for (_, c), rs in cells.items() if c not in LRA), None)
    if chomsky:
        t, tr = chomsky["task"], chomsky["trainer"]
        notes.append(
            f"Chomsky: trained on lengths {t['train_lengths'][0]}-{t['train_lengths'][1]}, tested on "
            f"{t['eval_lengths'][0]}-{t['eval_lengths'][1]} ({t['eval_batches']} x {t['eval_batch_size']} "
            f"sequences), {t['arch']['depth']} layers, width {t['arch']['dim']}, conv {t['arch']['conv']}, "
            f"{tr['max_steps']} steps of {tr['optimizer']} lr {tr['lr']}, batch {tr['batch_size']}."
        )
    configs = {rs[0]["config"]["task"]["name"]: rs[0]["config"] for (_, c), rs in sorted(cells.items()) if c in LRA}
    for cfg in configs.values():
        t, tr = cfg["task"], cfg["trainer"]
        lengths = f", expression lengths {t['min_length']}-{t['max_length']}" if "min_length" in t else ""
        notes.append(
            f"{t['name']}: {t['arch']['depth']} blocks of Conv4 + RNN + MLP, width {t['arch']['dim']}"
            f"{lengths}, {tr['max_steps']} steps of {tr['optimizer']} lr {tr['lr']}, batch "
            f"{tr['batch_size']}."
        )
    return " ".join(notes)


def table4(args) -> None:
    folders = {
        f"lra/{c}" if c in LRA else f"chomsky/{c}": {(m, c): preset(m, c) for m in reporting.MODELS}
        for c in [*COLUMNS, *EXTRA]
    }
    runs, caveat = reporting.gather(args, "make_table4", "test_acc", folders)
    if not runs:
        raise reporting.ResultsError(
            f"no run summaries of the presets in {args.results}/{{chomsky,lra}}/*/{args.scale}; run "
            f"`make reproduce-table4 SCALE={args.scale}` first"
        )
    cells = {k: reporting.cell(rs, "test_acc") for k, rs in runs.items()}
    paper = reporting.paper_reference("table4_chomsky_lra")
    note = setting_note(runs, args.scale) + caveat
    extra = [p for p in EXTRA if any(k[1] == p for k in cells)]
    header = ["Model", "source", *COLUMNS.values(), "Average", *(EXTRA[p] for p in extra)]
    rows = []
    for m in ORDER:
        if any((m, p) in cells for p in [*COLUMNS, *extra]):
            full = all((m, p) in cells for p in COLUMNS)
            avg = f"{statistics.fmean(cells[m, p]['mean'] for p in COLUMNS):.2f}" if full else "-"
            rows.append(
                [
                    reporting.NAMES[m],
                    f"ours ({args.scale})",
                    *(reporting.fmt_cell(cells.get((m, p))) for p in COLUMNS),
                    avg,
                    *(reporting.fmt_cell(cells.get((m, p))) for p in extra),
                ]
            )
    for name, vals in paper["chomsky"].items():
        lra = paper["lra"].get(name, {})
        vals = {**vals, **{c: lra[k] for c, k in PAPER_LRA_KEYS.items() if k in lra}}
        avg = f"{lra['average_of_nine']:.2f}" if "average_of_nine" in lra else "-"
        rows.append(
            [
                name,
                "paper" if name == "minLSTM" else "paper (from xLSTM)",
                *(f"{vals[p]:.2f}" if p in vals else "-" for p in COLUMNS),
                avg,
                *("-" for _ in extra),
            ]
        )
    title = "## Table 4: Chomsky hierarchy, counting tasks and Long Range Arena"
    reporting.write_table(args.out, f"table4_{args.scale}", title, note, header, rows)


def main(argv=None) -> int:
    return reporting.run_script("make_table4", table4, reporting.script_args(__doc__), argv)


if __name__ == "__main__":
    sys.exit(main())
