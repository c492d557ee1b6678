"""Layer benchmark: forward+backward time of MinGRU/MinLSTM against GRU/LSTM baselines, as ratios.

The layers that scripts/bench_layers.py and ``make gpu-check`` time, and how: forward + backward of
one layer on x (B, T, dim), every model once per round in interleaved rounds per sequence length (a
machine whose speed drifts slows every model alike, so the ratios stay comparable), median over
rounds after one warm-up run of each model, CUDA synchronised; the loss is the mean output. Batch 64,
input = hidden = 128 by default.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from minrnn import MinGRU, MinLSTM
from minrnn.baselines.loop_rnn import LoopGRU, LoopLSTM
from minrnn.harness.records import provenance, write_json_atomic, write_text_atomic
from minrnn.harness.reporting import paper_reference

# torch.nn RNNs and the plain loops return (out, h)
RETURN_PAIRS = {"nn.GRU (fused)", "nn.LSTM (fused)", "GRU loop (plain PyTorch)", "LSTM loop (plain PyTorch)"}


class Projections(nn.Module):
    """MinGRU's own Linear projections alone (linear_z and linear_h as one matmul, as the layer runs them)."""

    def __init__(self, layer: MinGRU):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        lins = self.layer._projections
        return F.linear(x, torch.cat([lin.weight for lin in lins]), torch.cat([lin.bias for lin in lins]))


class WithResets(nn.Module):
    """A layer on packed sequences: a reset every ``every`` steps (minrnn.resets), as packing sequences
    of that length end to end gives; times the reset path against the layer without resets."""

    def __init__(self, layer: nn.Module, every: int = 256):
        super().__init__()
        self.layer, self.every = layer, every

    def forward(self, x):
        resets = torch.zeros(x.shape[:2], dtype=torch.bool, device=x.device)
        resets[:, :: self.every] = True
        return self.layer(x, resets=resets)


def layer_models(dim: int) -> dict[str, nn.Module]:
    """MinGRU/MinLSTM with the device's default scan (fused kernel), on packed sequences (the reset
    path) and with the paper's log-space scan, beside torch.nn's fused GRU/LSTM and GRU/LSTM as plain
    loops (what Section 4.1 compares with)."""
    mingru, minlstm = MinGRU(dim, dim), MinLSTM(dim, dim)
    return {
        "MinGRU": mingru,
        "MinLSTM": minlstm,
        "MinGRU, packed (a reset every 256 steps)": WithResets(mingru),
        "MinLSTM, packed (a reset every 256 steps)": WithResets(minlstm),
        "MinGRU (log-space scan)": MinGRU(dim, dim, scan="log"),
        "MinLSTM (log-space scan)": MinLSTM(dim, dim, scan="log"),
        "MinGRU projections only": Projections(mingru),
        "nn.GRU (fused)": nn.GRU(dim, dim, batch_first=True),
        "nn.LSTM (fused)": nn.LSTM(dim, dim, batch_first=True),
        "GRU loop (plain PyTorch)": LoopGRU(dim, dim),
        "LSTM loop (plain PyTorch)": LoopLSTM(dim, dim),
    }


def callable_of(name: str, module: nn.Module):
    """x -> the layer's output sequence."""
    return (lambda x: module(x)[0]) if name in RETURN_PAIRS else module


def time_fwd_bwd(fns: dict, x: torch.Tensor, repeats: int) -> dict[str, float]:
    """Median forward+backward seconds of each (fn, params) in ``fns``, timed in interleaved rounds."""
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)

    def once(fn, params):
        for p in params:
            p.grad = None
        sync()
        t0 = time.perf_counter()
        fn(x).mean().backward()
        sync()
        return time.perf_counter() - t0

    for fn, params in fns.values():
        once(fn, params)  # warm-up (also builds or compiles the kernels on first use)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, (fn, params) in fns.items():
            times[name].append(once(fn, params))
    return {name: statistics.median(ts) for name, ts in times.items()}


RATIOS = [  # (label, numerator, denominator, meaning)
    ("nn.GRU (fused) / MinGRU", "nn.GRU (fused)", "MinGRU", "speedup, target >= 3 at T=4096"),
    ("nn.LSTM (fused) / MinLSTM", "nn.LSTM (fused)", "MinLSTM", "speedup"),
    ("GRU loop / MinGRU", "GRU loop (plain PyTorch)", "MinGRU", "speedup"),
    ("LSTM loop / MinLSTM", "LSTM loop (plain PyTorch)", "MinLSTM", "speedup"),
    ("log-space MinGRU / MinGRU", "MinGRU (log-space scan)", "MinGRU", "speedup, target >= 6 at T=4096"),
    ("log-space MinLSTM / MinLSTM", "MinLSTM (log-space scan)", "MinLSTM", "speedup"),
    ("MinGRU / its projections", "MinGRU", "MinGRU projections only", "overhead, target <= 2 at T=4096"),
    ("packed MinGRU / MinGRU", "MinGRU, packed (a reset every 256 steps)", "MinGRU", "cost of the reset path"),
    ("packed MinLSTM / MinLSTM", "MinLSTM, packed (a reset every 256 steps)", "MinLSTM", "cost of the reset path"),
]


def paper_comparison(t: dict, lengths: list[int]) -> list[str]:
    """Our speedups beside Section 4.1's (T4 GPU, parallel scan vs traditional RNN) where T matches."""
    paper = paper_reference("figure1_training")
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


def add_arguments(ap) -> None:
    ap.add_argument("--lengths", type=int, nargs="+", default=[64, 256, 512, 1024, 4096])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("results/bench"))


def run(args, error) -> int:
    """Every layer timed at every length; the tables and their record written to ``args.out``."""
    if min(args.lengths) < 1 or args.batch < 1 or args.dim < 1 or args.repeats < 1:
        error("lengths, batch, dim and repeats must be positive")
    torch.manual_seed(0)
    mods = layer_models(args.dim)
    rows = [row for T in args.lengths for row in measure_length(mods, args, T)]
    t = {(r["model"], r["T"]): r["seconds"] for r in rows}
    summary = {label: {str(T): t[num, T] / t[den, T] for T in args.lengths} for label, num, den, _ in RATIOS}
    table = report(t, summary, list(mods), args)
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


def measure_length(mods: dict, args, T: int) -> list[dict]:
    """One row per layer: its median forward+backward seconds at length T."""
    x = torch.randn(args.batch, T, args.dim)
    fns = {name: (callable_of(name, m), list(m.parameters())) for name, m in mods.items()}
    rows = []
    for name, sec in time_fwd_bwd(fns, x, args.repeats).items():
        rows.append({"model": name, "T": T, "seconds": sec})
        print(f"T={T:5d}  {name:28s} {sec * 1000:9.1f} ms", flush=True)
    return rows


def report(t: dict, summary: dict, models: list[str], args) -> str:
    """Markdown: the times, the ratios and the paper's speedups beside ours."""
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
    for name in models:
        lines.append(f"| {name} | " + " | ".join(f"{t[name, T] * 1000:.1f} ms" for T in args.lengths) + " |")
    lines += [
        "",
        "| ratio | " + " | ".join(f"T={T}" for T in args.lengths) + " | meaning |",
        "|---|" + "---|" * (len(args.lengths) + 1),
    ]
    for label, _, _, meaning in RATIOS:
        vals = summary[label].values()
        lines.append(f"| {label} | " + " | ".join(f"{v:.2f}x" for v in vals) + f" | {meaning} |")
    lines += paper_comparison(t, args.lengths)
    return "\n".join(lines) + "\n"
