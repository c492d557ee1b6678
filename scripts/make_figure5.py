"""Figure 5 (Appendix D.4): minLSTM training curves for several forget-gate bias initialisations.

Curves are the presets experiment=figure5/minlstm model.net.block.rnn_kwargs.forget_bias=<b> (and
table4/lra_minlstm, the default bias) on ListOps, matched by config identity: validation loss and
accuracy against the step, the mean over seeds, seeds faint. The table gives each bias's best
validation accuracy and the first step that reached 95% of it (how fast it converges); at CPU scale
it feeds the claim figure5-forget-bias (make claims). Writes results/figures/figure5_<scale>.{png,pdf,md}.

    python scripts/make_figure5.py --scale cpu --biases 0 5
"""

from __future__ import annotations

import statistics
import sys

import matplotlib

from minrnn.harness.records import write_text_atomic
from minrnn.harness.reporting import ResultsError, caveats, load_runs, match, run_script, save_figure, script_args

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def first_step_reaching(hist: list[dict], level: float) -> int:
    return next(h["step"] for h in hist if h["val_acc"] >= level)


def presets(biases: list[float]) -> dict:
    return {
        **{b: ["experiment=figure5/minlstm", f"model.net.block.rnn_kwargs.forget_bias={b}"] for b in biases},
        "default": ["experiment=table4/lra_minlstm"],
    }


def figure5(args) -> None:
    folder = args.results / "lra" / "listops" / args.scale
    runs, bad = load_runs(folder, args.scale, "test_acc")
    found, _ = match(runs, presets(args.biases), args.scale)
    if not found:
        raise ResultsError(
            f"no minLSTM conv + MLP run summaries of the presets in {folder}; run "
            f"`make reproduce-figure5 SCALE={args.scale}` first"
        )
    groups = {rs[0]["config"]["model"]["net"]["block"]["rnn_kwargs"]["forget_bias"]: rs for rs in found.values()}
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
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
        rows.append(
            f"| {bias:g} | {len(rs)} | {statistics.fmean(best):.3f} | {statistics.fmean(reach):.0f} | "
            f"{statistics.fmean(r['metrics']['test_acc'] for r in rs):.3f} |"
        )
    cfg = runs[0]["config"]
    for ax, label in zip(axes, ("validation loss", "validation accuracy"), strict=True):
        ax.set(xlabel="training step", ylabel=label)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(
        f"minLSTM forget-gate bias, {cfg['task']['name']} scale={args.scale}: {cfg['task']['arch']['depth']} "
        f"blocks, width {cfg['task']['arch']['dim']} ({runs[0]['provenance'].get('device_name', '?')})",
        fontsize=9,
    )
    save_figure(fig, args.out / f"figure5_{args.scale}")
    plt.close(fig)
    md = (
        "\n".join(
            [
                f"## Figure 5: minLSTM forget-gate bias initialisation ({cfg['task']['name']}, scale={args.scale})",
                "",
                "The paper: a larger forget-gate bias trains faster and more stably. Our copy does not name "
                "Figure 5's task; these runs are on " + cfg["task"]["name"] + "." + caveats("make_figure5", bad, []),
                "",
                "| forget bias | runs | best val acc | first step at 95% of it | test acc |",
                "|---|---|---|---|---|",
                *rows,
            ]
        )
        + "\n"
    )
    write_text_atomic(args.out / f"figure5_{args.scale}.md", md)
    print(md)


def main(argv=None) -> int:
    ap = script_args(__doc__, figures=True)
    ap.add_argument("--biases", type=float, nargs="+", default=[0.0, 5.0], help="the figure5 preset's biases")
    return run_script("make_figure5", figure5, ap, argv, figures=True)


if __name__ == "__main__":
    sys.exit(main())
