"""Tables 1 and 2 (selective copying) from the run summaries in results/, beside the paper's numbers.

Cells are the presets experiment=table1/<model> task.arch.depth=1,2,3 and experiment=table2/<model>,
matched to results/selective_copy/<scale>/*.json by config identity (minrnn.harness.reporting);
test accuracy (%) of the best validation checkpoint, mean ± std over seeds (n). CPU-scale cells
(--scale cpu) feed the claims (make claims) table1-depth, table1-stability, table2-minrnns-solve and
table2-mamba-solves; the longer runs of experiment=claims/copy_minlstm_long decide the minLSTM cell
there. Table 2 lists those longer runs, and the ones with the v1 paper's normalised gates
(claims/copy_minlstm_norm_long), in rows of their own. Writes Markdown and LaTeX and the validation
curves to results/tables/.

    python scripts/make_tables.py --scale cpu
"""

from __future__ import annotations

import statistics
import sys

import matplotlib

from minrnn.harness import registry, reporting

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODELS = reporting.MODELS
TABLE1 = [m for m in MODELS if m in reporting.PAPER_MODELS]  # Table 1 is the paper's two models' depths
PRESETS = {
    **{(m, d): [f"experiment=table1/{m}", f"task.arch.depth={d}"] for m in TABLE1 for d in (1, 2, 3)},
    **{(m, 3): reporting.preset("table2", m) for m in MODELS},
}
LONGER = {  # the claims audit's longer Table 2 minLSTM runs (configs/experiment/claims/), rows of their own
    "copy_minlstm_long": "minLSTM",
    "copy_minlstm_norm_long": "minLSTM, normalised gates",
}


def plot_curves(cells: dict, path, title: str) -> None:
    """Validation accuracy against step, one line per (model, depth): mean over seeds, min-max band."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for (model, depth), runs in sorted(cells.items()):
        hists = [r["metrics"]["val_history"] for r in runs]
        n = min(len(h) for h in hists)
        accs = list(zip(*[[100 * h["val_acc"] for h in hist[:n]] for hist in hists], strict=True))
        style = {"color": registry.models()[MODELS.index(model)].color, "linestyle": {1: ":", 2: "--"}.get(depth, "-")}
        steps = [h["step"] for h in hists[0][:n]]
        label = f"{reporting.NAMES[model]}, {depth} layer{'s' * (depth > 1)} (n={len(hists)})"
        ax.plot(steps, [statistics.fmean(c) for c in accs], label=label, **style)
        ax.fill_between(steps, [min(c) for c in accs], [max(c) for c in accs], color=style["color"], alpha=0.12)
    ax.set(xlabel="training step", ylabel="validation accuracy (%)", ylim=(0, 100))
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    reporting.save_figure(fig, path)


def paper_fmt(v) -> str:
    """A paper value: [mean, std], a Table 2 row {accuracy, std?}, or a number."""
    if isinstance(v, dict):
        v = [v["accuracy"], v["std"]] if "std" in v else v["accuracy"]
    return f"{v[0]:.1f} ± {v[1]:.1f}" if isinstance(v, list) else f"{v:.1f}"


def describe(cells: dict, scale: str) -> str:
    """The setting the numbers come from, read from the runs' own configs; the time of exactly these runs."""
    cfg = next(iter(cells.values()))[0]["config"]
    t, tr = cfg["task"], cfg["trainer"]
    return (
        f"scale={scale}: {t['num_tokens']} data tokens among {t['seq_len'] - t['num_tokens']} noise tokens, then "
        f"{t['num_tokens']} markers (input length {t['seq_len'] + t['num_tokens']}), vocabulary {t['vocab_size']}, "
        f"width {t['arch']['dim']}, {tr['max_steps']} steps, batch {tr['batch_size']}, "
        f"{tr['optimizer']} lr {tr['lr']}; "
        f"test accuracy (%) of the best validation checkpoint, mean ± std over seeds (n runs). "
        f"Time: {reporting.time_note([r for runs in cells.values() for r in runs])}."
    )


def tables(args) -> None:
    presets = PRESETS | {k: [f"experiment=claims/{k}"] for k in LONGER}
    cells, caveat = reporting.gather(args, "make_tables", "test_acc", {"selective_copy": presets})
    longer = {k: cells.pop(k) for k in LONGER if k in cells}
    if not cells:
        raise reporting.ResultsError(
            f"no run summaries of the presets in {args.results / 'selective_copy' / args.scale}; run "
            f"`make reproduce-table1 SCALE={args.scale}` first"
        )
    table1 = {k: rs for k, rs in cells.items() if k[0] in TABLE1}
    table2 = {k: rs for k, rs in cells.items() if k[1] == 3}
    note1 = describe(table1 or cells, args.scale) + caveat
    note2 = describe(table2 or cells, args.scale) + caveat
    acc = {k: reporting.cell(rs, "test_acc", 100) for k, rs in cells.items()}
    paper1, paper2 = (
        reporting.paper_reference("table1_selective_copy_layers"),
        reporting.paper_reference("table2_selective_copy"),
    )
    rows1 = [
        [
            reporting.NAMES[m],
            str(d),
            reporting.fmt_cell(acc.get((m, d)), 1, "missing"),
            paper_fmt(paper1[reporting.NAMES[m]][str(d)]),
        ]
        for m in TABLE1
        for d in (1, 2, 3)
    ]
    quoted = {r["model"] if r["model"] != "Mamba" else r["layer"]: r for r in paper2["rows"]}
    rows2 = [
        [r["model"], r["layer"], "not run (quoted by the paper from the Mamba paper)", paper_fmt(r)]
        for r in paper2["rows"]
        if r["model"] not in [reporting.NAMES[m] for m in reporting.PAPER_MODELS]
    ]
    for m in MODELS:
        impl = cells[m, 3][0].get("implementation", "") if (m, 3) in cells else ""
        layer = reporting.NAMES[m] if m != "mamba" else "S6" + (f" ({impl})" if impl else "")
        theirs = quoted.get("S6" if m == "mamba" else reporting.NAMES[m])  # the paper's Mamba rows name the layer
        rows2.append(
            [
                f"{reporting.NAMES[m]} (ours)",
                layer,
                reporting.fmt_cell(acc.get((m, 3)), 1, "missing"),
                paper_fmt(theirs) if theirs else "not in the paper",
            ]
        )
    for name, rs in longer.items():
        steps = "/".join(str(s) for s in sorted({r["metrics"]["steps"] for r in rs}))
        rows2.append(
            [
                f"{LONGER[name]} (ours, claims/{name}: {steps} steps)",
                "minLSTM",
                reporting.fmt_cell(reporting.cell(rs, "test_acc", 100), 1),
                paper_fmt(quoted["minLSTM"]),
            ]
        )
    dev = next(iter(cells.values()))[0]["provenance"].get("device_name", "device not recorded")
    plot_curves(
        cells, args.out / f"selective_copy_curves_{args.scale}", f"Selective copying, scale={args.scale} ({dev})"
    )
    h = ["Model", "# Layers", f"Accuracy, ours ({args.scale})", "Accuracy, paper (Table 1)"]
    reporting.write_table(
        args.out, f"table1_{args.scale}", "## Table 1: selective copying by number of layers", note1, h, rows1
    )
    h = ["Model", "Layer", f"Accuracy, ours ({args.scale})", "Accuracy, paper (Table 2)"]
    reporting.write_table(args.out, f"table2_{args.scale}", "## Table 2: selective copying", note2, h, rows2)


def main(argv=None) -> int:
    return reporting.run_script("make_tables", tables, reporting.script_args(__doc__), argv)


if __name__ == "__main__":
    sys.exit(main())
