"""Layer benchmark: forward+backward time of MinGRU/MinLSTM against GRU/LSTM baselines, as ratios.

The layers that scripts/bench_layers.py and ``make gpu-check`` time, and how: forward + backward of
one layer on x (B, T, dim), every model once per round in interleaved rounds per sequence length (a
machine whose speed drifts slows every model alike, so the ratios stay comparable), median over
rounds after one warm-up run of each model, CUDA synchronised; the loss is the mean output. Batch 64,
input = hidden = 128 by default.
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from minrnn import MinGRU, MinLSTM
from minrnn.baselines.loop_rnn import LoopGRU, LoopLSTM
from minrnn.bench import timing
from minrnn.harness import records
from minrnn.harness.records import provenance, write_json_atomic, write_text_atomic
from minrnn.reports.runs import paper_reference

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


def fwd_bwd_runs(fns: dict, x: torch.Tensor) -> dict:
    """{name: a call that times one forward+backward of (fn, params) on x and returns its seconds}."""
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)

    def once(fn, params):
        for p in params:
            p.grad = None
        sync()
        t0 = time.perf_counter()
        fn(x).mean().backward()
        sync()
        return time.perf_counter() - t0

    return {name: (lambda fn=fn, params=params: once(fn, params)) for name, (fn, params) in fns.items()}


def time_fwd_bwd(fns: dict, x: torch.Tensor, repeats: int) -> dict[str, float]:
    """Median forward+backward seconds of each (fn, params) in ``fns``, timed in interleaved rounds
    after a warm-up (which also builds or compiles the kernels on first use); no time budget."""
    times = timing.interleaved(fwd_bwd_runs(fns, x), repeats, math.inf, time.perf_counter, log=lambda _: None)
    return {name: statistics.median(ts) for name, ts in times.items()}


RATIOS = [  # (label, numerator, denominator, meaning); FLOORS: below these a ratio cannot be
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
FLOORS = {"MinGRU / its projections": 1.0}  # the fused layer runs its projections and then the scan


def paper_comparison(cells: dict, lengths: list[int]) -> list[str]:
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
        gru = [cells[label][T] for label in ("GRU loop / MinGRU", "nn.GRU (fused) / MinGRU")]
        lstm = [cells[label][T] for label in ("LSTM loop / MinLSTM", "nn.LSTM (fused) / MinLSTM")]
        out.append(
            f"| {T} | {p['minGRU_vs_GRU']}x | {' | '.join(gru)} | {p['minLSTM_vs_LSTM']}x | {' | '.join(lstm)} |"
        )
    return out


def add_arguments(ap) -> None:
    ap.add_argument("--lengths", type=int, nargs="+", default=[64, 256, 512, 1024, 4096])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds per length, at most")
    ap.add_argument(
        "--budget",
        type=float,
        help="seconds for the whole benchmark (default: none): rounds stop, "
        "and a length whose warm-up and first rounds cannot fit is skipped",
    )
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, 1 on a loaded machine)")
    ap.add_argument("--out", type=Path, default=Path("results/bench"))
    records.add_replace_argument(ap)


def run(args, error) -> int:
    """Every layer timed at every length that fits the budget; the tables and their record written."""
    if min(args.lengths) < 1 or args.batch < 1 or args.dim < 1 or args.repeats < 1 or args.threads < 0:
        error("lengths, batch, dim and repeats must be positive")
    if args.budget is not None and args.budget <= 0:
        error("budget must be positive")
    config = records.args_config(args)
    records.check_replace(args.out / "layers.json", config, args.replace, say=timing.say)
    before = timing.load_average()
    torch.set_num_threads(args.threads or timing.threads_for(before, timing.cores(), torch.get_num_threads()))
    timing.say(
        f"layer benchmark: 1-min load average {before:.1f} on {timing.cores()} cores before it; "
        f"timing with {torch.get_num_threads()} torch threads"
        + ("" if args.threads else " (--threads 0: chosen by the load)")
    )
    torch.manual_seed(0)
    mods = layer_models(args.dim)
    times, skipped = measure(mods, args, timing.Budget(args.budget))
    load = timing.load_line(before, timing.load_average(), timing.cores(), torch.get_num_threads())
    record = summarise(times) | {"skipped": skipped, "load": load}
    table = report(record, list(mods), args)
    print("\n" + table)
    record = {"benchmark": "layers", "config": config, "provenance": provenance()} | record
    write_json_atomic(args.out / "layers.json", record)
    write_text_atomic(args.out / "layers.md", table)
    return 0


def measure(mods: dict, args, budget: timing.Budget, log=timing.say) -> tuple[dict, dict]:
    """{T: {layer: [seconds per round]}} for every length that fits, shortest first, and {T: why} for
    the lengths skipped. Each length gets an equal share of the budget left; a longer length is skipped
    when its warm-up and MIN_ROUNDS rounds, extrapolated from the last length's rounds, exceed it all."""
    lengths, times, skipped = sorted(set(args.lengths)), {}, {}
    prev = None  # (T, seconds a round took there, the warm-up's included)
    for i, T in enumerate(lengths):
        left = budget.left()
        if prev and timing.expected_cost(*prev, T) > left:
            skipped[T] = f"needs about {timing.expected_cost(*prev, T):.0f} s, {max(left, 0):.0f} s of the budget left"
            log(f"T={T}: skipped ({skipped[T]})")
            continue
        log(f"T={T}: warm-up of {len(mods)} layers, then up to {args.repeats} interleaved rounds")
        x = torch.randn(args.batch, T, args.dim)
        runs = fwd_bwd_runs({name: (callable_of(name, m), list(m.parameters())) for name, m in mods.items()}, x)
        start = time.perf_counter()
        times[T] = timing.interleaved(runs, args.repeats, left / (len(lengths) - i), time.perf_counter, log=log)
        rounds = len(next(iter(times[T].values())))
        prev = (T, (time.perf_counter() - start) / (rounds + 1))
    return times, skipped


def summarise(times: dict) -> dict:
    """rows (median seconds of each layer and length, with quartiles), ratios (median per-round ratio,
    what docs/library.md reads) and each ratio's spread with why it is no result, if it is none."""
    rows, ratios, spread = [], {}, {}
    for T, by_layer in times.items():
        for name, ts in by_layer.items():
            s = timing.Spread.of(ts)
            rows.append({"model": name, "T": T, "seconds": s.median, "q1": s.q1, "q3": s.q3, "rounds": s.n})
    for label, num, den, _ in RATIOS:
        for T, by_layer in times.items():
            s, why = timing.ratio(by_layer[num], by_layer[den], FLOORS.get(label))
            ratios.setdefault(label, {})[str(T)] = s.median
            spread.setdefault(label, {})[str(T)] = {"q1": s.q1, "q3": s.q3, "rounds": s.n, "not_a_result": why}
    return {"rows": rows, "ratios": ratios, "ratio_spread": spread}


def report(record: dict, models: list[str], args) -> str:
    """Markdown: the times, the ratios (or why one is no result) and the paper's speedups beside ours."""
    lengths = sorted(set(args.lengths))
    t = {(r["model"], r["T"]): r for r in record["rows"]}
    cells = {
        label: {
            int(T): timing.ratio_cell(
                timing.Spread(record["ratios"][label][T], v["q1"], v["q3"], v["rounds"]), v["not_a_result"]
            )
            for T, v in by_T.items()
        }
        for label, by_T in record["ratio_spread"].items()
    }

    def ms(name, T):
        r = t.get((name, T))
        return f"{r['seconds'] * 1000:.1f} ms ({r['q1'] * 1000:.1f}-{r['q3'] * 1000:.1f})" if r else "-"

    lines = [
        f"# Layer benchmark: forward+backward, batch {args.batch}, input = hidden = {args.dim}",
        "",
        f"Generated by `python scripts/bench_layers.py` on {provenance()['device_name']} "
        f"({torch.get_num_threads()} threads), torch {torch.__version__}. Median of up to {args.repeats} rounds "
        "(interquartile range in brackets), every model once per round, each round starting one model later"
        + (f", within a budget of {args.budget:g} s" if args.budget else "")
        + f". A ratio is taken per round; one whose range is wider than {timing.MAX_SPREAD:.0%} of its median "
        "is marked unreliable, one below what is physically possible impossible.",
        "",
        record["load"],
        *[f"T={T} not measured: {why}." for T, why in record["skipped"].items()],
        "",
        "| model | " + " | ".join(f"T={T}" for T in lengths) + " |",
        "|---|" + "---|" * len(lengths),
    ]
    lines += [f"| {name} | " + " | ".join(ms(name, T) for T in lengths) + " |" for name in models]
    lines += [
        "",
        "| ratio | " + " | ".join(f"T={T}" for T in lengths) + " | meaning |",
        "|---|" + "---|" * (len(lengths) + 1),
    ]
    for label, _, _, meaning in RATIOS:
        lines.append(f"| {label} | " + " | ".join(cells[label].get(T, "-") for T in lengths) + f" | {meaning} |")
    measured = [T for T in lengths if (models[0], T) in t]
    return "\n".join(lines + paper_comparison(cells, measured)) + "\n"
