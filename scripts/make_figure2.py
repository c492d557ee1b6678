"""Figure 2 (Shakespeare): test-loss curves, one line per model, and the best loss and its step.

Reads results/shakespeare/<scale>/*.json (the val_history of each minrnn-train run; the paper's
curves are test loss, and this task evaluates on the test split), writes the plot (PNG and PDF) and
a table beside the paper's numbers (results/paper_reference.json) to results/figures/.

    python scripts/make_figure2.py --scale cpu
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from minrnn.records import write_text_atomic  # noqa: E402
from scripts.make_tables import NAMES, ResultsError, load_runs  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=["cpu", "paper"], default="cpu")
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    ap.add_argument("--out", type=Path, default=None, help="default: RESULTS/figures")
    args = ap.parse_args(argv)
    folder = args.results / "shakespeare" / args.scale
    out = args.out or args.results / "figures"
    paper = json.loads((ROOT / "results/paper_reference.json").read_text())["figure2_shakespeare"]
    try:
        if not folder.is_dir() or not any(folder.glob("*.json")):
            raise ResultsError(f"no run summaries in {folder}; run `make reproduce-figure2 SCALE={args.scale}` first")
        runs = load_runs(folder, args.scale)
    except ResultsError as e:
        print(f"make_figure2: error: {e}", file=sys.stderr)
        return 2
    order = ["mingru", "minlstm", "mamba", "transformer", "gru", "lstm"]
    runs.sort(key=lambda r: (order.index(r["config"]["model"]["name"]), r["seed"]))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    rows = []
    for r in runs:
        name = NAMES[r["config"]["model"]["name"]]
        hist = r["metrics"]["val_history"]
        style = {"color": f"C{order.index(r['config']['model']['name'])}", "alpha": 1.0 if r["seed"] == 0 else 0.4}
        label = name if r["seed"] == 0 else None
        ax.plot([h["step"] for h in hist], [h["val_loss"] for h in hist], label=label, **style)
        best = min(hist, key=lambda h: h["val_loss"])
        rows.append(f"| {name} | {r['seed']} | {best['val_loss']:.3f} | {best['step']} "
                    f"| {paper['best_test_loss'].get(name, '—')} | {paper['best_step'].get(name, '—')} |")  # fmt: skip
    cfg = runs[0]["config"]
    dev = runs[0]["provenance"]["device_name"]
    ax.set(xlabel="training step", ylabel="test loss (cross-entropy, nats/char)",
           title=f"Shakespeare, scale={args.scale}: dim {cfg['task']['arch']['dim']}, context "
                 f"{cfg['task']['context']}, {cfg['trainer']['max_steps']} steps ({dev})")  # fmt: skip
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend()
    out.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "pdf"):
        fig.savefig(out / f"figure2_{args.scale}.{ext}", bbox_inches="tight", dpi=150)
    lines = [f"## Figure 2: Shakespeare, scale={args.scale}", "",
             f"Best test loss and the step it was reached (evaluations every {cfg['trainer']['eval_every']} steps); "
             "the paper's values are for its own scale (dim 384, context 256, 5000 steps, GPU).", "",
             "| Model | seed | best test loss (ours) | at step | paper | paper's step |", "|---|---|---|---|---|---|",
             *rows]  # fmt: skip
    md = "\n".join(lines) + "\n"
    print(md)
    write_text_atomic(out / f"figure2_{args.scale}.md", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
