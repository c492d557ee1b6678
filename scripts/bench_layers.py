"""Layer benchmark: forward+backward time of MinGRU/MinLSTM against GRU/LSTM baselines, as ratios.

All models are timed in one process, in interleaved rounds (every model once per round, per sequence
length), so a machine whose speed drifts slows every model alike and the ratios stay comparable.
Batch 64, input = hidden = 128 by default. Times are medians over --repeats rounds after one warm-up
run of each model; the loss is the mean output.

    python scripts/bench_layers.py                       # T in 64 256 512 1024 4096, writes results/bench/
    python scripts/bench_layers.py --lengths 64 --repeats 2 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from minrnn import MinGRU, MinLSTM
from minrnn.baselines.loop_rnn import LoopGRU, LoopLSTM
from minrnn.harness.records import provenance, write_json_atomic, write_text_atomic
from minrnn.harness.reporting import paper_reference

ROOT = Path(__file__).resolve().parent.parent


class Projections(nn.Module):
    """MinGRU's own Linear projections alone (linear_z and linear_h as one matmul, as the layer runs them)."""

    def __init__(self, layer: MinGRU):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        lins = self.layer._projections
        return F.linear(x, torch.cat([lin.weight for lin in lins]), torch.cat([lin.bias for lin in lins]))


def models(dim: int) -> dict[str, nn.Module]:
    mingru = MinGRU(dim, dim)
    first = lambda m: lambda x: m(x)[0]  # noqa: E731  torch.nn RNNs (and the loops) return (out, h)
    return {
        "MinGRU": mingru,
        "MinLSTM": MinLSTM(dim, dim),
        "MinGRU (log-space scan)": MinGRU(dim, dim, scan="log"),
        "MinLSTM (log-space scan)": MinLSTM(dim, dim, scan="log"),
        "MinGRU projections only": Projections(mingru),
        "nn.GRU (fused)": nn.GRU(dim, dim, batch_first=True),
        "nn.LSTM (fused)": nn.LSTM(dim, dim, batch_first=True),
        "GRU loop (plain PyTorch)": LoopGRU(dim, dim),
        "LSTM loop (plain PyTorch)": LoopLSTM(dim, dim),
    }, first


def time_fwd_bwd(fns: dict, x, repeats: int) -> dict[str, float]:
    """Median forward+backward seconds of each (fn, params) in ``fns``, timed in interleaved rounds."""

    def once(fn, params):
        for p in params:
            p.grad = None
        t0 = time.perf_counter()
        fn(x).mean().backward()
        return time.perf_counter() - t0

    for fn, params in fns.values():
        once(fn, params)  # warm-up (also builds the compiled kernel on first use)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, (fn, params) in fns.items():
            times[name].append(once(fn, params))
    return {name: statistics.median(ts) for name, ts in times.items()}


def paper_comparison(t: dict, lengths: list[int]) -> list[str]:
    """Our speedups beside Section 4.1's (T4 GPU, parallel scan vs traditional RNN) where T matches."""
    paper = paper_reference(ROOT / "results", "figure1_training")
    shared = [T for T in lengths if str(T) in paper["speedup_over_traditional"]]
    if not shared:
        return []
    out = [
        "",
        "Beside the paper (Section 4.1). The paper's figures are a T4 GPU, where the parallel scan",
        "beats a sequential RNN by orders of magnitude; ours are this CPU, where every model loops",
        "over time and the gain comes from removing h_{t-1} from the gates (no matmul per step).",
        "",
        "| T | minGRU vs GRU: paper (T4) | ours vs GRU loop | ours vs nn.GRU | minLSTM vs LSTM: paper (T4) "
        "| ours vs LSTM loop | ours vs nn.LSTM |",
        "|---|---|---|---|---|---|---|",
    ]
    for T in shared:
        p = paper["speedup_over_traditional"][str(T)]
        out.append(
            f"| {T} | {p['minGRU_vs_GRU']}x | {t['GRU loop (plain PyTorch)', T] / t['MinGRU', T]:.2f}x "
            f"| {t['nn.GRU (fused)', T] / t['MinGRU', T]:.2f}x | {p['minLSTM_vs_LSTM']}x "
            f"| {t['LSTM loop (plain PyTorch)', T] / t['MinLSTM', T]:.2f}x "
            f"| {t['nn.LSTM (fused)', T] / t['MinLSTM', T]:.2f}x |"
        )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", type=int, nargs="+", default=[64, 256, 512, 1024, 4096])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("results/bench"))
    args = ap.parse_args(argv)
    if min(args.lengths) < 1 or args.batch < 1 or args.dim < 1 or args.repeats < 1:
        ap.error("lengths, batch, dim and repeats must be positive")

    torch.manual_seed(0)
    mods, first = models(args.dim)
    fused = {"nn.GRU (fused)", "nn.LSTM (fused)", "GRU loop (plain PyTorch)", "LSTM loop (plain PyTorch)"}
    rows = []
    for T in args.lengths:
        x = torch.randn(args.batch, T, args.dim)
        fns = {name: (first(m) if name in fused else m, list(m.parameters())) for name, m in mods.items()}
        for name, sec in time_fwd_bwd(fns, x, args.repeats).items():
            rows.append({"model": name, "T": T, "seconds": sec})
            print(f"T={T:5d}  {name:28s} {sec * 1000:9.1f} ms", flush=True)

    t = {(r["model"], r["T"]): r["seconds"] for r in rows}
    lines = [
        f"# Layer benchmark: forward+backward, batch {args.batch}, input = hidden = {args.dim}",
        "",
        f"Generated by `python scripts/bench_layers.py` on {provenance()['device_name']} "
        f"({torch.get_num_threads()} threads), torch {torch.__version__}. Median of {args.repeats} rounds, "
        "every model once per round.",
        "",
        "| model | " + " | ".join(f"T={T}" for T in args.lengths) + " |",
        "|---|" + "---|" * len(args.lengths),
    ]
    for name in mods:
        lines.append(f"| {name} | " + " | ".join(f"{t[name, T] * 1000:.1f} ms" for T in args.lengths) + " |")
    ratios = [
        ("nn.GRU (fused) / MinGRU", "nn.GRU (fused)", "MinGRU", "speedup, target >= 3 at T=4096"),
        ("nn.LSTM (fused) / MinLSTM", "nn.LSTM (fused)", "MinLSTM", "speedup"),
        ("GRU loop / MinGRU", "GRU loop (plain PyTorch)", "MinGRU", "speedup"),
        ("LSTM loop / MinLSTM", "LSTM loop (plain PyTorch)", "MinLSTM", "speedup"),
        ("log-space MinGRU / MinGRU", "MinGRU (log-space scan)", "MinGRU", "speedup, target >= 6 at T=4096"),
        ("log-space MinLSTM / MinLSTM", "MinLSTM (log-space scan)", "MinLSTM", "speedup"),
        ("MinGRU / its projections", "MinGRU", "MinGRU projections only", "overhead, target <= 2 at T=4096"),
    ]
    lines += [
        "",
        "| ratio | " + " | ".join(f"T={T}" for T in args.lengths) + " | meaning |",
        "|---|" + "---|" * (len(args.lengths) + 1),
    ]
    summary = {}
    for label, num, den, meaning in ratios:
        vals = [t[num, T] / t[den, T] for T in args.lengths]
        summary[label] = dict(zip(map(str, args.lengths), vals, strict=True))
        lines.append(f"| {label} | " + " | ".join(f"{v:.2f}x" for v in vals) + f" | {meaning} |")
    lines += paper_comparison(t, args.lengths)
    table = "\n".join(lines) + "\n"
    print("\n" + table)
    record = {
        "benchmark": "layers",
        "config": vars(args) | {"out": str(args.out)},
        "provenance": provenance(),
        "rows": rows,
        "ratios": summary,
    }
    write_json_atomic(args.out / "layers.json", record)
    write_text_atomic(args.out / "layers.md", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
