"""Tables 1-4 and 6 from the run summaries in results/, beside the paper's numbers (scripts/make_table*.py).

Each cell is a preset at one scale, matched to its results folder by config identity
(minrnn.reports.runs); mean ± std over seeds (n). Each table is written as Markdown and LaTeX to
results/tables/ (``render.write_table``); the scripts' docstrings say which claims each one feeds.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from minrnn.harness import registry
from minrnn.harness.config import CONFIGS
from minrnn.reports import render
from minrnn.reports.render import Report
from minrnn.reports.runs import (
    MODELS,
    NAMES,
    PAPER_MODELS,
    ResultsError,
    cell,
    gather,
    paper_reference,
    preset,
    time_note,
)

# ---- Tables 1 and 2: selective copying ------------------------------------------------------------------


TABLE1 = [m for m in MODELS if m in PAPER_MODELS]  # Table 1 is the paper's two models' depths
PRESETS = {
    **{(m, d): [f"experiment=table1/{m}", f"task.arch.depth={d}"] for m in TABLE1 for d in (1, 2, 3)},
    **{(m, 3): preset("table2", m) for m in MODELS},
}
LONGER = {  # the claims audit's longer Table 2 minLSTM runs (configs/experiment/claims/), rows of their own
    "copy_minlstm_long": "minLSTM",
    "copy_minlstm_norm_long": "minLSTM, normalised gates",
}


def plot_curves(cells: dict, path, title: str) -> None:
    """Validation accuracy against step, one line per (model, depth): mean over seeds, min-max band."""
    fig, ax = render.pyplot().subplots(figsize=(7, 4.2))
    for (model, depth), runs in sorted(cells.items()):
        hists = [r["metrics"]["val_history"] for r in runs]
        n = min(len(h) for h in hists)
        accs = list(zip(*[[100 * h["val_acc"] for h in hist[:n]] for hist in hists], strict=True))
        style = {"color": registry.models()[MODELS.index(model)].color, "linestyle": {1: ":", 2: "--"}.get(depth, "-")}
        steps = [h["step"] for h in hists[0][:n]]
        label = f"{NAMES[model]}, {depth} layer{'s' * (depth > 1)} (n={len(hists)})"
        ax.plot(steps, [statistics.fmean(c) for c in accs], label=label, **style)
        ax.fill_between(steps, [min(c) for c in accs], [max(c) for c in accs], color=style["color"], alpha=0.12)
    ax.set(xlabel="training step", ylabel="validation accuracy (%)", ylim=(0, 100))
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    render.save_figure(fig, path)


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
        f"Time: {time_note([r for runs in cells.values() for r in runs])}."
    )


def table1_rows(acc: dict) -> list[list[str]]:
    """Table 1: each of the paper's models at 1-3 layers, ours beside the paper's."""
    paper = paper_reference("table1_selective_copy_layers")
    return [
        [NAMES[m], str(d), render.fmt_cell(acc.get((m, d)), 1, "missing"), paper_fmt(paper[NAMES[m]][str(d)])]
        for m in TABLE1
        for d in (1, 2, 3)
    ]


def table2_rows(cells: dict, acc: dict, longer: dict) -> list[list[str]]:
    """Table 2: the rows the paper quotes, every model of ours at 3 layers, then the longer runs."""
    paper = paper_reference("table2_selective_copy")
    quoted = {r["model"] if r["model"] != "Mamba" else r["layer"]: r for r in paper["rows"]}
    rows = [
        [r["model"], r["layer"], "not run (quoted by the paper from the Mamba paper)", paper_fmt(r)]
        for r in paper["rows"]
        if r["model"] not in [NAMES[m] for m in PAPER_MODELS]
    ]
    for m in MODELS:
        impl = cells[m, 3][0].get("implementation", "") if (m, 3) in cells else ""
        layer = NAMES[m] if m != "mamba" else "S6" + (f" ({impl})" if impl else "")
        theirs = quoted.get("S6" if m == "mamba" else NAMES[m])  # the paper's Mamba rows name the layer
        ours = render.fmt_cell(acc.get((m, 3)), 1, "missing")
        rows.append([f"{NAMES[m]} (ours)", layer, ours, paper_fmt(theirs) if theirs else "not in the paper"])
    for name, rs in longer.items():
        steps = "/".join(str(s) for s in sorted({r["metrics"]["steps"] for r in rs}))
        ours = render.fmt_cell(cell(rs, "test_acc", 100), 1)
        label = f"{LONGER[name]} (ours, claims/{name}: {steps} steps)"
        rows.append([label, "minLSTM", ours, paper_fmt(quoted["minLSTM"])])
    return rows


def tables(args) -> None:
    """Tables 1 and 2 and the validation curves of their runs."""
    presets = PRESETS | {k: [f"experiment=claims/{k}"] for k in LONGER}
    cells, caveat = gather(args, "make_tables", "test_acc", {"selective_copy": presets})
    longer = {k: cells.pop(k) for k in LONGER if k in cells}
    if not cells:
        raise ResultsError(
            f"no run summaries of the presets in {args.results / 'selective_copy' / args.scale}; run "
            f"`make reproduce-table1 SCALE={args.scale}` first"
        )
    table1 = {k: rs for k, rs in cells.items() if k[0] in TABLE1}
    table2 = {k: rs for k, rs in cells.items() if k[1] == 3}
    acc = {k: cell(rs, "test_acc", 100) for k, rs in cells.items()}
    dev = next(iter(cells.values()))[0]["provenance"].get("device_name", "device not recorded")
    plot_curves(
        cells, args.out / f"selective_copy_curves_{args.scale}", f"Selective copying, scale={args.scale} ({dev})"
    )
    h = ["Model", "# Layers", f"Accuracy, ours ({args.scale})", "Accuracy, paper (Table 1)"]
    note = describe(table1 or cells, args.scale) + caveat
    title = "## Table 1: selective copying by number of layers"
    render.write_table(args.out, f"table1_{args.scale}", title, note, h, table1_rows(acc))
    h = ["Model", "Layer", f"Accuracy, ours ({args.scale})", "Accuracy, paper (Table 2)"]
    note = describe(table2 or cells, args.scale) + caveat
    rows = table2_rows(cells, acc, longer)
    render.write_table(args.out, f"table2_{args.scale}", "## Table 2: selective copying", note, h, rows)


# ---- Table 3: offline RL on D4RL ---------------------------------------------------------------------------

ENV_NAMES = {"halfcheetah": "HalfCheetah", "hopper": "Hopper", "walker2d": "Walker"}
DATASET_NAMES = {"medium": "M", "medium_replay": "M-R", "medium_expert": "M-E"}
PAPER_COLUMNS = ["DT", "DS4", "DAaren", "DMamba", "minLSTM", "minGRU"]
# make reproduce-table3-demo's settings (task.path is a location, not part of a run's identity)
DEMO = ["task.env=halfcheetah", "task.name=d4rl-demo/halfcheetah", "task.target_returns=[-300,-700]"]


def d4rl_label(key: str) -> str:
    env, _, dataset = key.partition("-")
    return f"{ENV_NAMES.get(env, env)}-{DATASET_NAMES.get(dataset, dataset)}" if dataset else ENV_NAMES.get(env, env)


def d4rl_runs(args, keys: list[str]) -> tuple[dict, str]:
    """{(model, dataset key): runs} of the presets, and the note on files left out."""
    root = "d4rl-demo" if args.demo else "d4rl"
    folders = {}
    for key in keys:
        env, _, dataset = key.partition("-")
        extra = DEMO if args.demo else [f"task.env={env}", f"task.dataset={dataset}"]
        folders[f"{root}/{key}"] = {(m, key): preset("table3", m, *extra) for m in MODELS}
    return gather(args, "make_table3", "final.score", folders)


def table3(args) -> None:
    paper = paper_reference("table3_d4rl")
    keys = ["halfcheetah"] if args.demo else paper["datasets"]
    runs, caveat = d4rl_runs(args, keys)
    if not runs:
        target = "reproduce-table3-demo" if args.demo else "reproduce-table3"
        raise ResultsError(
            f"no finished run summaries of the presets in {args.results}/d4rl*/*/{args.scale}; run "
            f"`make {target} SCALE={args.scale}` first"
        )
    cells = {k: cell(rs, "final.score") for k, rs in runs.items()}
    models = [m for m in MODELS if any(k[0] == m for k in cells)]
    final = next(iter(runs.values()))[0]["metrics"]["final"]
    rollouts = sorted(
        {
            f"{NAMES[m]}: {'/'.join(sorted({r['metrics']['final'].get('rollout', '?') for r in rs}))}"
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
    ours = [f"{NAMES[m]} (ours)" for m in models]
    header = ["Dataset", *([] if args.demo else [f"{c} (paper)" for c in PAPER_COLUMNS]), *ours]
    rows = []
    for key in keys:
        theirs = [] if args.demo else [f"{paper['mean'][c][key]:.1f}" for c in PAPER_COLUMNS]
        rows.append([d4rl_label(key), *theirs, *(render.fmt_cell(cells.get((m, key)), 1) for m in models)])
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
    render.write_table(args.out, name, title, note + caveat, header, rows)


# ---- Table 4: Chomsky hierarchy, counting and Long Range Arena ----------------------------------------------

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


def table4_preset(model: str, column: str) -> list[str]:
    """A cell's overrides: the model's preset where one exists, else the table's template with the model."""
    if column not in LRA:
        return preset("table4", model, f"task.problem={column}")
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
        f"lra/{c}" if c in LRA else f"chomsky/{c}": {(m, c): table4_preset(m, c) for m in MODELS}
        for c in [*COLUMNS, *EXTRA]
    }
    runs, caveat = gather(args, "make_table4", "test_acc", folders)
    if not runs:
        raise ResultsError(
            f"no run summaries of the presets in {args.results}/{{chomsky,lra}}/*/{args.scale}; run "
            f"`make reproduce-table4 SCALE={args.scale}` first"
        )
    cells = {k: cell(rs, "test_acc") for k, rs in runs.items()}
    paper = paper_reference("table4_chomsky_lra")
    note = setting_note(runs, args.scale) + caveat
    extra = [p for p in EXTRA if any(k[1] == p for k in cells)]
    header = ["Model", "source", *COLUMNS.values(), "Average", *(EXTRA[p] for p in extra)]
    rows = []
    for m in MODELS:
        if any((m, p) in cells for p in [*COLUMNS, *extra]):
            full = all((m, p) in cells for p in COLUMNS)
            avg = f"{statistics.fmean(cells[m, p]['mean'] for p in COLUMNS):.2f}" if full else "-"
            rows.append(
                [
                    NAMES[m],
                    f"ours ({args.scale})",
                    *(render.fmt_cell(cells.get((m, p))) for p in COLUMNS),
                    avg,
                    *(render.fmt_cell(cells.get((m, p))) for p in extra),
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
    render.write_table(args.out, f"table4_{args.scale}", title, note, header, rows)


# ---- Table 6: the ListOps ablation of minLSTM ------------------------------------------------------------------

ROWS = {
    "minLSTM": "table6/minlstm_plain",
    "minLSTM + Conv": "table6/minlstm_conv",
    "minLSTM + MLP": "table6/minlstm_mlp",
    "minLSTM + Conv + MLP": "table4/lra_minlstm",
}


def table6(args) -> None:
    presets = {row: [f"experiment={p}"] for row, p in ROWS.items()}  # the folder holds Table 4's and Figure 5's too
    cells, caveat = gather(args, "make_table6", "test_acc", {"lra/listops": presets}, list_ignored=False)
    if not cells:
        raise ResultsError(
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
    paper = paper_reference("table6_listops_ablation")
    rows = [
        [row, render.fmt_cell(cell(cells[row], "test_acc") if row in cells else None), f"{paper[row]:.2f}"]
        for row in ROWS
    ]
    title = "## Table 6: ListOps architecture ablation (minLSTM)"
    header = ["Model", f"ListOps accuracy, ours ({args.scale})", "paper (Table 6)"]
    render.write_table(args.out, f"table6_{args.scale}", title, note, header, rows)


def _demo_argument(ap) -> None:
    ap.add_argument("--demo", action="store_true", help="the runs on locally generated data (results/d4rl-demo)")


TABLES_1_2 = Report("make_tables", tables)
TABLE3 = Report("make_table3", table3, extra=_demo_argument)
TABLE4 = Report("make_table4", table4)
TABLE6 = Report("make_table6", table6)
