"""The recall experiment's results (docs/recall.md): MQAR runs matched to their presets, the best learning
rate of each (setting, model, width), each model's recurrent state size, and the figure and table
results/recall/recall_<scale>.{md,json,png,pdf} (scripts/make_recall.py). Also read by the claims of
the discussion (minrnn.reports.claims.discussion).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from minrnn.files import write_text
from minrnn.harness import registry
from minrnn.harness.records import provenance
from minrnn.reports import render
from minrnn.reports.runs import ROOT, load_runs, match


def variant(config: dict) -> str:
    """The recall preset a run belongs to: the model's key, ``_conv`` when a Conv4 precedes the minRNN."""
    return config["model"]["name"] + ("_conv" if config["task"]["arch"].get("conv") else "")


def state_size(config: dict) -> int:
    """Recurrent state elements per layer: minGRU/minLSTM/GRU d_hidden, LSTM hidden + cell, Mamba
    d_inner x d_state, the Transformer's KV cache at the sequence length (2 x T x d)."""
    name, arch, net = config["model"]["name"], config["task"]["arch"], config["model"]["net"]
    d = arch["dim"]
    if name in ("mingru", "minlstm"):
        return d * arch["expansion"]
    if name == "lstm":
        return 2 * d
    if name == "mamba":
        return net["expand"] * d * net["d_state"]
    if name == "transformer":
        return 2 * config["task"]["seq_len"] * d
    return d


def label(v: str) -> str:
    base = registry.names().get(v.removesuffix("_conv"), v)
    return base + (" + Conv4" if v.endswith("_conv") else "")


def collect(results: Path, scale: str) -> tuple[dict, list[str], list[str]]:
    """{setting: {variant: {state size: best run}}}, bad files, ignored files. A model's size is its
    recurrent state per layer (state_size): the width, and for minGRU/minLSTM the expansion too."""
    best, bad, ignored = defaultdict(lambda: defaultdict(dict)), [], []
    tried = defaultdict(set)  # (setting, variant, state size) -> learning rates with a run
    for folder in sorted((results / "mqar").glob(f"*/{scale}")):
        runs, b = load_runs(folder, scale, "test_acc")
        bad += b
        presets = {}
        for r in runs:
            c = r["config"]
            arch = c["task"]["arch"]
            key = (
                variant(c),
                state_size(c),
                c["trainer"]["lr"],
                c["task"]["seq_len"],
                c["task"]["num_kv_pairs"],
                arch["dim"],
                arch["expansion"],
            )
            presets[key] = [
                f"experiment=recall/{key[0]}",
                f"task.seq_len={key[3]}",
                f"task.num_kv_pairs={key[4]}",
                f"task.arch.dim={key[5]}",
                f"trainer.lr={key[2]}",
                *([f"task.arch.expansion={key[6]}"] if key[6] != 1 else []),
            ]
        cells, other = match(runs, presets, scale)
        ignored += [Path(r["_file"]).name for r in other]
        for (v, width, lr, L, P, _, _), rs in cells.items():
            tried[f"L{L}-P{P}", v, width].add(lr)
            r = seed_mean(rs)
            slot = best[f"L{L}-P{P}"][v]
            if width not in slot or r["metrics"]["best_val"] > slot[width]["metrics"]["best_val"]:
                slot[width] = r
    for (setting, v, width), lrs in tried.items():
        best[setting][v][width]["_lrs"] = sorted(lrs)
    return best, bad, ignored


def seed_mean(runs: list[dict]) -> dict:
    """One cell's runs (its seeds) as one: the first run, with the validation and test accuracies
    averaged over the seeds (``_n`` of them), so the best learning rate is chosen by the mean, not by a
    lucky seed."""
    first = sorted(runs, key=lambda r: r["seed"])[0]
    metrics = dict(first["metrics"])
    for key in ("best_val", "test_acc"):
        metrics[key] = sum(r["metrics"][key] for r in runs) / len(runs)
    return {**first, "metrics": metrics, "_n": len(runs)}


# ---- the figure and the table (scripts/make_recall.py) -----------------------------------------------------


def _settings(best: dict) -> list[str]:
    return sorted(best, key=lambda s: int(s.split("-")[0][1:]))


def _variants(models: dict) -> list[str]:
    return sorted(models, key=lambda v: (registry.keys().index(v.removesuffix("_conv")), v))


def figure(best: dict, path: Path, scale: str) -> None:
    settings = _settings(best)
    fig, axes = render.pyplot().subplots(1, len(settings), figsize=(5 * len(settings), 4), squeeze=False, sharey=True)
    colors = {m.key: m.color for m in registry.models()}
    for ax, setting in zip(axes[0], settings, strict=True):
        for v in _variants(best[setting]):
            runs = sorted(best[setting][v].values(), key=lambda r: state_size(r["config"]))
            xs = [state_size(r["config"]) for r in runs]
            ys = [r["metrics"]["test_acc"] for r in runs]
            style = "--" if v.endswith("_conv") else "-"
            ax.plot(xs, ys, style, marker="o", color=colors.get(v.removesuffix("_conv"), "gray"), label=label(v))
        length, pairs = setting.split("-")
        ax.axhline(1 / int(pairs[1:]), color="black", lw=0.8, ls=":", label="guessing floor 1/k")
        ax.set(xscale="log", title=f"{length[1:]} tokens, {pairs[1:]} pairs", xlabel="recurrent state per layer")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("MQAR accuracy (best learning rate)")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(f"Recall against state size (scale={scale})")
    render.save_figure(fig, path)


def rows(best: dict) -> list[dict]:
    """One row per (setting, model, width): the run at the best learning rate, its seeds' mean."""
    out = []
    for setting in _settings(best):
        for v in _variants(best[setting]):
            for _size, r in sorted(best[setting][v].items()):
                out.append(
                    {
                        "setting": setting,
                        "model": label(v),
                        "preset": f"recall/{v}",
                        "width": r["config"]["task"]["arch"]["dim"],
                        "expansion": r["config"]["task"]["arch"]["expansion"],
                        "state": state_size(r["config"]),
                        "best_lr": r["config"]["trainer"]["lr"],
                        "val_acc": r["metrics"]["best_val"],
                        "test_acc": r["metrics"]["test_acc"],
                        "steps": r["metrics"]["steps"],
                        "lrs_tried": r["_lrs"],
                        "seeds": r["_n"],
                        "run": Path(r["_file"]).name,
                    }
                )
    return out


def markdown(table: list[dict], bad: list[str], ignored: list[str], scale: str) -> str:
    lines = [f"## Recall against state size (MQAR, scale={scale})", ""]
    lines += [
        "Generated by `scripts/make_recall.py` from results/mqar/. Test accuracy of the run with the best "
        "mean validation accuracy over the learning rates tried, per model, width and setting; the mean over "
        "the seeds (n) at that learning rate. "
        "State: recurrent state elements per layer (the Transformer: its KV cache). The guessing floor is "
        "1/k for k key-value pairs (drawn in the figure): an accuracy near it is a guess. docs/recall.md says "
        "what was run.",
        "",
    ]
    lines += render.markdown_table(
        ["setting", "model", "width x expansion", "state", "best lr", "test acc", "n", "lrs tried"],
        [
            [
                r["setting"],
                r["model"],
                f"{r['width']} x {r['expansion']}",
                str(r["state"]),
                f"{r['best_lr']:g}",
                f"{r['test_acc']:.3f}",
                str(r["seeds"]),
                ", ".join(f"{lr:g}" for lr in r["lrs_tried"]),
            ]
            for r in table
        ],
    )
    if bad or ignored:
        lines += ["", f"Left out: {len(bad)} unreadable or incomplete files, {len(ignored)} runs of other configs."]
        lines += [f"- bad: {b}" for b in bad] + [f"- ignored: {i}" for i in ignored]
    return "\n".join(lines) + "\n"


def add_arguments(ap) -> None:
    ap.add_argument("--scale", choices=("cpu", "paper"), default="cpu")
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    ap.add_argument("--out", type=Path, default=None, help="default: <results>/recall")


def run(args, error=None) -> int:
    """The recall table (Markdown and JSON) and figure of ``args.scale``; exit 2 when there are no runs."""
    out = args.out or args.results / "recall"
    best, bad, ignored = collect(args.results, args.scale)
    if not best:
        print(
            f"make_recall: error: no MQAR runs at scale={args.scale} in {args.results}/mqar; "
            f"run `make reproduce-recall SCALE={args.scale}` first",
            file=sys.stderr,
        )
        return 2
    table = rows(best)
    text = markdown(table, bad, ignored, args.scale)
    write_text(out / f"recall_{args.scale}.md", text)
    render.write_result_json(
        out / f"recall_{args.scale}.json", {"rows": table, "bad": bad, "ignored": ignored, "provenance": provenance()}
    )
    figure(best, out / f"recall_{args.scale}.png", args.scale)
    print(text)
    return 0
