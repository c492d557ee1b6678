"""Section 3's parameter claims, counted on our modules: minGRU/minLSTM weights as a share of GRU/LSTM's.

Weights only (bias=False), d_h = alpha * d_x, printed beside the paper's percentages
(minrnn/harness/paper_reference.json); feeds the claims params-mingru and params-minlstm (make claims), which
hold at every scale. Writes --out/param_counts.{json,md}.

    python scripts/param_counts.py --out results/core
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from torch import nn

from minrnn import MinGRU, MinLSTM
from minrnn.harness.records import provenance, write_json_atomic, write_text_atomic
from minrnn.harness.reporting import paper_reference

ROOT = Path(__file__).resolve().parent.parent


def count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dim", type=int, default=128, help="d_x")
    ap.add_argument("--out", type=Path, default=Path("results/core"))
    args = ap.parse_args(argv)
    if args.dim < 1:
        ap.error("--dim must be positive")
    paper = paper_reference("section3_parameter_percent")
    d, rows = args.dim, []
    for alpha in (1, 2, 3, 4):
        h = alpha * d
        gru = count(MinGRU(d, h, bias=False)) / count(nn.GRU(d, h, bias=False))
        lstm = count(MinLSTM(d, h, bias=False, forget_bias=0)) / count(nn.LSTM(d, h, bias=False))
        rows.append({"alpha": alpha, "minGRU_vs_GRU": gru, "minLSTM_vs_LSTM": lstm})
    lines = [
        f"# Section 3: parameters as a share of the traditional RNN's (weights only, d_x = {d})",
        "",
        "| alpha (d_h = alpha d_x) | minGRU / GRU (ours) | paper | minLSTM / LSTM (ours) | paper |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        a = str(r["alpha"])
        lines.append(
            f"| {a} | {100 * r['minGRU_vs_GRU']:.1f}% | {paper['minGRU_vs_GRU'][a]}% "
            f"| {100 * r['minLSTM_vs_LSTM']:.1f}% | {paper['minLSTM_vs_LSTM'][a]}% |"
        )
    table = "\n".join(lines) + "\n"
    print(table)
    write_json_atomic(args.out / "param_counts.json", {"rows": rows, "config": {"dim": d}, "provenance": provenance()})
    write_text_atomic(args.out / "param_counts.md", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
