"""The recall figure and table (docs/recall.md): MQAR accuracy against recurrent state size, per model.

Reads the run summaries of ``make reproduce-recall`` (results/mqar/L<len>-P<pairs>/<scale>/), keeps the
runs whose identity is that of their recall preset composed now (others are listed as ignored), picks
for each (setting, model, width) the learning rate with the best validation accuracy and reports that
run's test accuracy (the learning-rate sweep is part of the protocol). Writes
results/recall/recall_<scale>.{md,json,png,pdf}.

    python scripts/make_recall.py --scale cpu
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

from minrnn.harness import registry, reporting
from minrnn.harness.records import provenance, write_json_atomic, write_text_atomic

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


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
    """{setting: {variant: {width: best run}}}, bad files, ignored files."""
    best, bad, ignored = defaultdict(lambda: defaultdict(dict)), [], []
    tried = defaultdict(set)  # (setting, variant, width) -> learning rates with a run
    for folder in sorted((results / "mqar").glob(f"*/{scale}")):
        runs, b = reporting.load_runs(folder, scale, "test_acc")
        bad += b
        presets = {}
        for r in runs:
            c = r["config"]
            key = (
                variant(c),
                c["task"]["arch"]["dim"],
                c["trainer"]["lr"],
                c["task"]["seq_len"],
                c["task"]["num_kv_pairs"],
            )
            presets[key] = [
                f"experiment=recall/{key[0]}",
                f"task.seq_len={key[3]}",
                f"task.num_kv_pairs={key[4]}",
                f"task.arch.dim={key[1]}",
                f"trainer.lr={key[2]}",
            ]
        cells, other = reporting.match(runs, presets, scale)
        ignored += [Path(r["_file"]).name for r in other]
        for (v, width, lr, L, P), rs in cells.items():
            for r in rs:
                tried[f"L{L}-P{P}", v, width].add(lr)
                slot = best[f"L{L}-P{P}"][v]
                if width not in slot or r["metrics"]["best_val"] > slot[width]["metrics"]["best_val"]:
                    slot[width] = r
    for (setting, v, width), lrs in tried.items():
        best[setting][v][width]["_lrs"] = sorted(lrs)
    return best, bad, ignored


def figure(best: dict, path: Path, scale: str) -> None:
    settings = sorted(best, key=lambda s: int(s.split("-")[0][1:]))
    fig, axes = plt.subplots(1, len(settings), figsize=(5 * len(settings), 4), squeeze=False, sharey=True)
    colors = {m.key: m.color for m in registry.models()}
    for ax, setting in zip(axes[0], settings, strict=True):
        for v in sorted(best[setting], key=lambda v: (registry.keys().index(v.removesuffix("_conv")), v)):
            runs = sorted(best[setting][v].values(), key=lambda r: state_size(r["config"]))
            xs = [state_size(r["config"]) for r in runs]
            ys = [r["metrics"]["test_acc"] for r in runs]
            style = "--" if v.endswith("_conv") else "-"
            ax.plot(xs, ys, style, marker="o", color=colors.get(v.removesuffix("_conv"), "gray"), label=label(v))
        length, pairs = setting.split("-")
        ax.set(xscale="log", title=f"{length[1:]} tokens, {pairs[1:]} pairs", xlabel="recurrent state per layer")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("MQAR accuracy (best learning rate)")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(f"Recall against state size (scale={scale})")
    reporting.save_figure(fig, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=("cpu", "paper"), default="cpu")
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    ap.add_argument("--out", type=Path, default=None, help="default: <results>/recall")
    args = ap.parse_args(argv)
    out = args.out or args.results / "recall"
    best, bad, ignored = collect(args.results, args.scale)
    if not best:
        print(
            f"make_recall: error: no MQAR runs at scale={args.scale} in {args.results}/mqar; "
            f"run `make reproduce-recall SCALE={args.scale}` first",
            file=sys.stderr,
        )
        return 2
    rows = []
    for setting in sorted(best, key=lambda s: int(s.split("-")[0][1:])):
        for v in sorted(best[setting], key=lambda v: (registry.keys().index(v.removesuffix("_conv")), v)):
            for width, r in sorted(best[setting][v].items()):
                rows.append(
                    {
                        "setting": setting,
                        "model": label(v),
                        "preset": f"recall/{v}",
                        "width": width,
                        "state": state_size(r["config"]),
                        "best_lr": r["config"]["trainer"]["lr"],
                        "val_acc": r["metrics"]["best_val"],
                        "test_acc": r["metrics"]["test_acc"],
                        "steps": r["metrics"]["steps"],
                        "lrs_tried": r["_lrs"],
                        "run": Path(r["_file"]).name,
                    }
                )
    lines = [f"## Recall against state size (MQAR, scale={args.scale})", ""]
    lines += [
        "Generated by `scripts/make_recall.py` from results/mqar/. Test accuracy of the run with the best "
        "validation accuracy over the learning rates tried, per model, width and setting; one seed. "
        "State: recurrent state elements per layer (the Transformer: its KV cache). docs/recall.md says "
        "what was run.",
        "",
    ]
    lines += reporting.markdown_table(
        ["setting", "model", "width", "state", "best lr", "test acc", "lrs tried"],
        [
            [
                r["setting"],
                r["model"],
                str(r["width"]),
                str(r["state"]),
                f"{r['best_lr']:g}",
                f"{r['test_acc']:.3f}",
                ", ".join(f"{lr:g}" for lr in r["lrs_tried"]),
            ]
            for r in rows
        ],
    )
    if bad or ignored:
        lines += ["", f"Left out: {len(bad)} unreadable or incomplete files, {len(ignored)} runs of other configs."]
        lines += [f"- bad: {b}" for b in bad] + [f"- ignored: {i}" for i in ignored]
    text = "\n".join(lines) + "\n"
    write_text_atomic(out / f"recall_{args.scale}.md", text)
    write_json_atomic(
        out / f"recall_{args.scale}.json", {"rows": rows, "bad": bad, "ignored": ignored, "provenance": provenance()}
    )
    figure(best, out / f"recall_{args.scale}.png", args.scale)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
