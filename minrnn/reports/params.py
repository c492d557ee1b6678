"""Section 3's parameter claims, counted on our modules: minGRU/minLSTM weights as a share of GRU/LSTM's
(scripts/param_counts.py). Weights only (bias=False), d_h = alpha * d_x, beside the paper's percentages;
feeds the claims params-mingru and params-minlstm, which hold at every scale.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from minrnn import MinGRU, MinLSTM
from minrnn.files import write_text
from minrnn.harness.records import provenance
from minrnn.reports.render import write_result_json
from minrnn.reports.runs import paper_reference


def count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def shares(d: int) -> list[dict]:
    """minGRU/GRU and minLSTM/LSTM weight counts at expansion alpha = 1..4 (d_h = alpha d)."""
    rows = []
    for alpha in (1, 2, 3, 4):
        h = alpha * d
        gru = count(MinGRU(d, h, bias=False)) / count(nn.GRU(d, h, bias=False))
        lstm = count(MinLSTM(d, h, bias=False, forget_bias=0)) / count(nn.LSTM(d, h, bias=False))
        rows.append({"alpha": alpha, "minGRU_vs_GRU": gru, "minLSTM_vs_LSTM": lstm})
    return rows


def markdown(rows: list[dict], d: int) -> str:
    paper = paper_reference("section3_parameter_percent")
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
    return "\n".join(lines) + "\n"


def add_arguments(ap) -> None:
    ap.add_argument("--dim", type=int, default=128, help="d_x")
    ap.add_argument("--out", type=Path, default=Path("results/core"))


def run(args, error) -> int:
    """results/core/param_counts.{json,md}."""
    if args.dim < 1:
        error("--dim must be positive")
    rows = shares(args.dim)
    table = markdown(rows, args.dim)
    print(table)
    write_result_json(
        args.out / "param_counts.json", {"rows": rows, "config": {"dim": args.dim}, "provenance": provenance()}
    )
    write_text(args.out / "param_counts.md", table)
    return 0
