"""Figure 5 (Appendix D.4): minLSTM training curves for several forget-gate bias initialisations.

Reads every minLSTM run in results/lra/<task>/<scale>/ with the full LRA block (conv + MLP), groups
them by the forget-gate bias in their config (Table 4's untagged runs are the default bias 3), and
plots the validation loss and accuracy against the training step: the mean over seeds, seeds faint.
Writes results/figures/figure5_<scale>.{png,pdf,md}; the table gives each bias's best validation
accuracy and the first step that reached 95% of it (how fast it converges).

    python scripts/make_figure5.py --scale cpu
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from minrnn.records import write_text_atomic  # noqa: E402
from scripts.make_table6 import forget_bias  # noqa: E402
from scripts.make_tables import ResultsError, load_runs  # noqa: E402


def first_step_reaching(hist: list[dict], level: float) -> int:
    return next(h["step"] for h in hist if h["val_acc"] >= level)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=["cpu", "paper"], default="cpu")
    ap.add_argument("--task", default="listops", help="the LRA task folder (results/lra/TASK)")
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    ap.add_argument("--out", type=Path, help="default: RESULTS/figures")
    args = ap.parse_args(argv)
    folder = args.results / "lra" / args.task / args.scale
    try:
        runs = load_runs(folder, args.scale) if folder.is_dir() else []
        runs = [r for r in runs if r["config"]["model"]["name"] == "minlstm"
                and r["config"]["task"]["arch"]["conv"] and r["config"]["task"]["arch"]["mlp"]]  # fmt: skip
        if not runs:
            raise ResultsError(f"no minLSTM conv + MLP run summaries in {folder}; run "
                               f"`make reproduce-figure5 SCALE={args.scale}` first")  # fmt: skip
    except ResultsError as e:
        print(f"make_figure5: error: {e}", file=sys.stderr)
        return 2
    groups: dict[float, list[dict]] = {}
    for r in runs:
        groups.setdefault(forget_bias(r), []).append(r)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    rows = []
    for i, (bias, rs) in enumerate(sorted(groups.items())):
        for key, ax in zip(("val_loss", "val_acc"), axes, strict=True):
            for r in rs:
                hist = r["metrics"]["val_history"]
                ax.plot([h["step"] for h in hist], [h[key] for h in hist], color=f"C{i}", alpha=0.25, lw=0.8)
            steps = [h["step"] for h in rs[0]["metrics"]["val_history"]]
            curves = [[h[key] for h in r["metrics"]["val_history"]] for r in rs]
            if all(len(c) == len(steps) for c in curves):
                ax.plot(steps, [statistics.fmean(v) for v in zip(*curves, strict=True)], color=f"C{i}",
                        label=f"forget bias {bias:g} (n={len(rs)})")  # fmt: skip
        best = [max(h["val_acc"] for h in r["metrics"]["val_history"]) for r in rs]
        reach = [first_step_reaching(r["metrics"]["val_history"], 0.95 * b) for r, b in zip(rs, best, strict=True)]
        rows.append(f"| {bias:g} | {len(rs)} | {statistics.fmean(best):.3f} | {statistics.fmean(reach):.0f} | "
                    f"{statistics.fmean(r['metrics']['test_acc'] for r in rs):.3f} |")  # fmt: skip
    cfg = runs[0]["config"]
    for ax, label in zip(axes, ("validation loss", "validation accuracy"), strict=True):
        ax.set(xlabel="training step", ylabel=label)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(f"minLSTM forget-gate bias, {cfg['task']['name']} scale={args.scale}: {cfg['task']['arch']['depth']} "
                 f"blocks, width {cfg['task']['arch']['dim']} ({runs[0]['provenance'].get('device_name', '?')})",
                 fontsize=9)  # fmt: skip
    out = args.out or args.results / "figures"
    out.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "pdf"):
        fig.savefig(out / f"figure5_{args.scale}.{ext}", bbox_inches="tight", dpi=150)
    md = "\n".join([f"## Figure 5: minLSTM forget-gate bias initialisation ({cfg['task']['name']}, scale={args.scale})",
                    "", "The paper: a larger forget-gate bias trains faster and more stably. Our copy does not name "
                    "Figure 5's task; these runs are on " + cfg["task"]["name"] + ".", "",
                    "| forget bias | runs | best val acc | first step at 95% of it | test acc |",
                    "|---|---|---|---|---|", *rows]) + "\n"  # fmt: skip
    write_text_atomic(out / f"figure5_{args.scale}.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
