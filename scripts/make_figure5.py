"""Figure 5 (Appendix D.4): minLSTM training curves for several forget-gate bias initialisations.

Our copy of the paper does not name Figure 5's task, so it is drawn for each task of
minrnn.harness.reporting.FIGURE5_TASKS that has runs: selective copying (experiment=claims/figure5_copy,
and table2/minlstm at the default bias 3), where convergence takes thousands of steps and so shows at
CPU scale, and ListOps (experiment=figure5/minlstm, and table4/lra_minlstm). Runs are matched by config
identity: validation loss and accuracy against the step, the mean over seeds, seeds faint. The tables
give each bias's best validation accuracy, the first step that reached 95% of it, and the mean
validation accuracy over the run (the area under the learning curve: how fast it learns); at CPU scale
they feed the claim figure5-forget-bias (make claims). Writes results/figures/figure5_<scale>.{png,pdf,md}.

    python scripts/make_figure5.py --scale cpu --biases 0 5
"""

from __future__ import annotations

import statistics
import sys

import matplotlib

from minrnn.harness import reporting
from minrnn.harness.records import write_text_atomic

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def first_step_reaching(hist: list[dict], level: float) -> int:
    return next(h["step"] for h in hist if h["val_acc"] >= level)


def plot_task(axes, groups: dict) -> list[str]:
    """One task's curves on (loss, accuracy) axes; its table rows."""
    rows = []
    for i, (bias, rs) in enumerate(sorted(groups.items())):
        hists = [r["metrics"]["val_history"] for r in rs]
        for key, ax in zip(("val_loss", "val_acc"), axes, strict=True):
            for hist in hists:
                ax.plot([h["step"] for h in hist], [h[key] for h in hist], color=f"C{i}", alpha=0.25, lw=0.8)
            n = min(len(h) for h in hists)
            mean = [statistics.fmean(h[j][key] for h in hists) for j in range(n)]
            ax.plot([h["step"] for h in hists[0][:n]], mean, color=f"C{i}", label=f"forget bias {bias:g} (n={len(rs)})")
        best = [max(h["val_acc"] for h in hist) for hist in hists]
        reach = [first_step_reaching(hist, 0.95 * b) for hist, b in zip(hists, best, strict=True)]
        area = statistics.fmean(map(reporting.curve_area, rs))
        test = statistics.fmean(r["metrics"]["test_acc"] for r in rs)
        means = [f"{statistics.fmean(best):.3f}", f"{statistics.fmean(reach):.0f}", f"{area:.3f}", f"{test:.3f}"]
        rows.append([f"{bias:g}", str(len(rs)), *means])
    return rows


def figure5(args) -> None:
    found_tasks = {}
    for task, (folder, *_) in reporting.FIGURE5_TASKS.items():
        presets = {folder: reporting.figure5_presets(task, args.biases)}
        found, caveat = reporting.gather(args, "make_figure5", "test_acc", presets, list_ignored=False)
        if len(found) >= 2:  # another bias beside the default
            groups = {
                rs[0]["config"]["model"]["net"]["block"]["rnn_kwargs"]["forget_bias"]: rs for rs in found.values()
            }
            found_tasks[task] = (groups, caveat)
    if not found_tasks:
        raise reporting.ResultsError(
            f"no minLSTM forget-bias run summaries in {args.results} at scale={args.scale}; run "
            f"`make reproduce-figure5 SCALE={args.scale}` first"
        )
    fig, axes = plt.subplots(len(found_tasks), 2, figsize=(10, 3.8 * len(found_tasks)), squeeze=False)
    md = [f"## Figure 5: minLSTM forget-gate bias initialisation (scale={args.scale})", ""]
    md += ["The paper: a larger forget-gate bias trains faster and more stably. Our copy does not name its task."]
    for row, (groups, caveat) in zip(axes, found_tasks.values(), strict=True):
        rows = plot_task(row, groups)
        cfg = next(iter(groups.values()))[0]["config"]
        where = f"{cfg['task']['name']}, {cfg['task']['arch']['depth']} blocks, width {cfg['task']['arch']['dim']}"
        for ax, label in zip(row, ("validation loss", "validation accuracy"), strict=True):
            ax.set(xlabel="training step", ylabel=label, title=where)
            ax.grid(alpha=0.3)
        row[1].legend(fontsize=8)
        md += ["", f"### {where}" + caveat, ""]
        md += reporting.markdown_table(
            ["forget bias", "runs", "best val acc", "first step at 95% of it", "mean val acc over the run", "test acc"],
            rows,
        )
    fig.suptitle(f"minLSTM forget-gate bias, scale={args.scale}", fontsize=9)
    fig.tight_layout()
    reporting.save_figure(fig, args.out / f"figure5_{args.scale}")
    text = "\n".join(md) + "\n"
    write_text_atomic(args.out / f"figure5_{args.scale}.md", text)
    print(text)


def main(argv=None) -> int:
    ap = reporting.script_args(__doc__, figures=True)
    ap.add_argument("--biases", type=float, nargs="+", default=[0.0, 5.0], help="the figure5 presets' biases")
    return reporting.run_script("make_figure5", figure5, ap, argv, figures=True)


if __name__ == "__main__":
    sys.exit(main())
