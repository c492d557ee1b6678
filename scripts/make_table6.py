"""Table 6 (Appendix D.3): the ListOps architecture ablation of minLSTM, from results/lra/listops/.

Cells are the presets experiment=table6/minlstm_{plain,conv,mlp} and table4/lra_minlstm (+ Conv +
MLP, Table 4's LRA setting), matched by config identity; test accuracy, mean ± std (n), beside the
paper's (v3 Appendix D.3, from minrnn/harness/paper_reference.json). CPU-scale cells (3000 steps,
lengths 100-300) feed the claim table6-ablation (make claims). Writes
results/tables/table6_<scale>.{md,tex}.

    python scripts/make_table6.py --scale cpu
"""

from __future__ import annotations

import sys

from minrnn.harness import reporting

ROWS = {
    "minLSTM": "table6/minlstm_plain",
    "minLSTM + Conv": "table6/minlstm_conv",
    "minLSTM + MLP": "table6/minlstm_mlp",
    "minLSTM + Conv + MLP": "table4/lra_minlstm",
}


def table6(args) -> None:
    presets = {row: [f"experiment={p}"] for row, p in ROWS.items()}  # the folder holds Table 4's and Figure 5's too
    cells, caveat = reporting.gather(args, "make_table6", "test_acc", {"lra/listops": presets}, list_ignored=False)
    if not cells:
        raise reporting.ResultsError(
            f"no minLSTM ListOps run summaries of the presets in {args.results / 'lra/listops' / args.scale}; run "
            f"`make reproduce-table6 SCALE={args.scale}` first"
        )
    cfg = next(iter(cells.values()))[0]["config"]
    t, tr, bias = cfg["task"], cfg["trainer"], cfg["model"]["net"]["block"]["rnn_kwargs"]["forget_bias"]
    note = (
        f"scale={args.scale}: ListOps expressions of {t['min_length']}-{t['max_length']} tokens, "
        f"{t['arch']['depth']} blocks of width {t['arch']['dim']}, {tr['max_steps']} steps of {tr['optimizer']} "
        f"lr {tr['lr']}, batch {tr['batch_size']}, forget-gate bias {bias}; test accuracy of the best "
        "validation checkpoint, mean ± std over seeds (n). The paper's (v3 Appendix D.3, 3 seeds, at its own "
        "scale: 8 blocks of width 128, lengths 500-2000) beside ours."
    ) + caveat
    paper = reporting.paper_reference("table6_listops_ablation")
    rows = [
        [row, reporting.fmt_cell(reporting.cell(cells[row], "test_acc") if row in cells else None), f"{paper[row]:.2f}"]
        for row in ROWS
    ]
    title = "## Table 6: ListOps architecture ablation (minLSTM)"
    header = ["Model", f"ListOps accuracy, ours ({args.scale})", "paper (Table 6)"]
    reporting.write_table(args.out, f"table6_{args.scale}", title, note, header, rows)


def main(argv=None) -> int:
    return reporting.run_script("make_table6", table6, reporting.script_args(__doc__), argv)


if __name__ == "__main__":
    sys.exit(main())
