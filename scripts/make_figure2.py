"""Figure 2 (Shakespeare): test-loss curves, one line per model, and the best loss and its step.

Runs are the presets experiment=figure2/<model> in results/shakespeare/<scale>/, matched by config
identity (the paper's curves are test loss, and this task evaluates on the test split). Writes the
plot (PNG and PDF) and a table beside the paper's numbers to results/figures/. At CPU scale (dim 64,
context 128, 600 steps) it feeds the claims (make claims) figure2-comparable and figure2-mamba-early;
figure2-transformer-slower is decided by the 2,000-step runs of experiment=claims/figure2_long_<model>.

    python scripts/make_figure2.py --scale cpu
"""

from __future__ import annotations

import sys

import matplotlib

from minrnn.harness import registry, reporting
from minrnn.harness.records import write_text_atomic

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def figure2(args) -> None:
    paper = reporting.paper_reference("figure2_shakespeare")
    presets = {m: reporting.preset("figure2", m) for m in reporting.MODELS}
    cells, caveat = reporting.gather(args, "make_figure2", "best_val", {"shakespeare": presets})
    if not cells:
        raise reporting.ResultsError(
            f"no run summaries of the presets in {args.results / 'shakespeare' / args.scale}; run "
            f"`make reproduce-figure2 SCALE={args.scale}` first"
        )
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    rows = []
    for model, rs in sorted(cells.items(), key=lambda kv: reporting.MODELS.index(kv[0])):
        for r in sorted(rs, key=lambda r: r["seed"]):
            name, hist = reporting.NAMES[model], r["metrics"]["val_history"]
            style = {
                "color": registry.models()[reporting.MODELS.index(model)].color,
                "alpha": 1.0 if r["seed"] == 0 else 0.4,
            }
            label = name if r["seed"] == 0 else None
            ax.plot([h["step"] for h in hist], [h["val_loss"] for h in hist], label=label, **style)
            best = min(hist, key=lambda h: h["val_loss"])
            theirs = [str(paper[k].get(name, "—")) for k in ("best_test_loss", "best_step")]
            rows.append([name, str(r["seed"]), f"{best['val_loss']:.3f}", str(best["step"]), *theirs])
    first = next(iter(cells.values()))[0]
    cfg = first["config"]
    ax.set(
        xlabel="training step",
        ylabel="test loss (cross-entropy, nats/char)",
        title=f"Shakespeare, scale={args.scale}: dim {cfg['task']['arch']['dim']}, context "
        f"{cfg['task']['context']}, {cfg['trainer']['max_steps']} steps ({first['provenance']['device_name']})",
    )
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend()
    reporting.save_figure(fig, args.out / f"figure2_{args.scale}")
    lines = [
        f"## Figure 2: Shakespeare, scale={args.scale}",
        "",
        f"Best test loss and the step it was reached (evaluations every {cfg['trainer']['eval_every']} steps); "
        "the paper's values are for its own scale (dim 384, context 256, 5000 steps, GPU)." + caveat,
        "",
        *reporting.markdown_table(["Model", "seed", "best test loss (ours)", "at step", "paper", "paper's step"], rows),
    ]
    md = "\n".join(lines) + "\n"
    print(md)
    write_text_atomic(args.out / f"figure2_{args.scale}.md", md)


def main(argv=None) -> int:
    return reporting.run_script(
        "make_figure2", figure2, reporting.script_args(__doc__, figures=True), argv, figures=True
    )


if __name__ == "__main__":
    sys.exit(main())
