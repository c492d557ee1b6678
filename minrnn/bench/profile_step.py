"""Where a training step's time goes (Figure 1's models, issue 17): each part of the network, per model.

One training step (forward, cross-entropy over every position, backward; batch 64) of Figure 1's
models (the Table 2 network at expansion 1, minrnn.bench.grid.MODELS) runs under torch.profiler after a
warm-up, and every operator's own time is put in one part of the network: the matrix products
(projections and head), the recurrence (our fused scan; torch.nn's fused GRU/LSTM layer, which also
does its input projection), norms, embedding, loss, other elementwise work (residual adds, bias
gradients), copies and fills, and autograd's own bookkeeping. The profiler's FLOP count of the matrix
products gives their rate, and "if only matmuls remained" the step's time at that rate with every
other part free: an upper bound on what removing overhead can buy. Unprofiled steps of all models
are timed in interleaved rounds, so a machine that drifts slows every model alike.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from minrnn.bench import ROOT
from minrnn.bench.grid import BENCH_OVERRIDES, MODELS, build_model, describe, training_step
from minrnn.harness import records, registry
from minrnn.harness.records import provenance, write_json_atomic, write_text_atomic

# the paper's models and the RNNs they replace, each as configured (registry order)
DEFAULT_MODELS = [next(iter(m.variants())) for m in registry.models() if m.paper or m.key in ("gru", "lstm")]

# (part, substrings of operator names), first match wins; matched against the lower-cased name.
PARTS = [
    ("norms", ("rms_norm", "layer_norm")),
    ("recurrence", ("gate_scan", "linear_scan", "selective_scan", "mkldnn_rnn", "_thnn_fused", "attention")),
    ("matmuls", ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")),
    ("embedding", ("embedding", "index_select")),
    ("loss", ("log_softmax", "nll_loss")),
    ("copies and fills", ("copy_", "fill_", "zero_", "clone", "empty")),
    ("autograd bookkeeping", ("autograd::", "backward0", "backward1")),  # the engine and its graph nodes
]
OTHER = "other elementwise (residual adds, bias gradients, ...)"
ORDER = [p for p, _ in PARTS[:5]] + [OTHER] + [p for p, _ in PARTS[5:]]


def part_of(name: str) -> str:
    """The part of the network an operator (torch.profiler event name) belongs to."""
    low = name.lower()
    return next((part for part, keys in PARTS if any(k in low for k in keys)), OTHER)


def breakdown(events) -> tuple[dict[str, float], float, bool]:
    """Self CPU milliseconds per part, the matrix products' GFLOP, and whether torch.nn's fused
    (oneDNN) recurrence ran, whose products the profiler does not count, from profiler key averages."""
    parts = dict.fromkeys(ORDER, 0.0)
    gflop, fused_rnn = 0.0, False
    for e in events:
        part = part_of(e.key)
        parts[part] += e.self_cpu_time_total / 1000
        gflop += (e.flops or 0) / 1e9 if part == "matmuls" else 0.0
        fused_rnn |= "mkldnn_rnn" in e.key
    return parts, gflop, fused_rnn


def fused_rnn_gflop(model, tokens: int) -> float:
    """GFLOP of a training step's matrix products inside torch.nn's fused GRU/LSTM layers: per token
    and layer, gates x hidden x (input + hidden) multiply-adds (4 gates LSTM, 3 GRU), done three
    times (forward, gradient of the inputs and state, gradient of the weights)."""
    total = 0
    for m in model.modules():
        if isinstance(m, (torch.nn.LSTM, torch.nn.GRU)):
            gates = 4 if isinstance(m, torch.nn.LSTM) else 3
            total += m.num_layers * gates * m.hidden_size * (m.input_size + m.hidden_size)
    return 3 * 2 * total * tokens / 1e9


def add_arguments(ap) -> None:
    ap.add_argument("--lengths", type=int, nargs="+", default=[512, 4096])
    ap.add_argument("--models", nargs="+", default=DEFAULT_MODELS, metavar="MODEL", help=", ".join(MODELS))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of unprofiled timed steps")
    ap.add_argument("--set", dest="overrides", nargs="*", default=[], help="Hydra overrides, e.g. task.arch.dim=32")
    ap.add_argument("--out", type=Path, default=ROOT / "results/efficiency")
    records.add_replace_argument(ap)


def run(args, error) -> int:
    """Every model at every length: timed, then profiled; the report and its record written."""
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        error(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
    if min(args.lengths) < 1 or args.batch < 1 or args.rounds < 1:
        error("lengths, batch and rounds must be positive")
    config = records.args_config(args, fixed_overrides=BENCH_OVERRIDES)
    records.check_replace(args.out / "profile_cpu.json", config, args.replace)
    rows = [row for T in args.lengths for row in measure_length(args, T)]
    table = report(rows, args)
    print("\n" + table)
    record = {
        "benchmark": "profile_step",
        "config": config,
        "provenance": provenance(torch.device("cpu")),
        "rows": rows,
    }
    write_json_atomic(args.out / "profile_cpu.json", record)
    write_text_atomic(args.out / "profile_cpu.md", table)
    return 0


def training_steps(args, T: int) -> dict:
    """name -> (model, its training step on random tokens of length T)."""
    steps = {}
    for name in args.models:
        torch.manual_seed(0)
        model, vocab = build_model(name, "cpu", args.overrides, torch.device("cpu"))
        x = torch.randint(0, vocab, (args.batch, T))
        y = torch.randint(0, vocab, (args.batch, T))
        steps[name] = (model, training_step(model, x, y))
    return steps


def timed_rounds(steps: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds of unprofiled steps, every model once per round after a warm-up of each."""
    times = {name: [] for name in steps}
    for _, step in steps.values():
        step()  # warm-up
    for _ in range(rounds):
        for name, (_, step) in steps.items():
            t0 = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - t0)
    return times


def measure_length(args, T: int) -> list[dict]:
    """One row per model at length T: the median unprofiled step and one profiled step's parts."""
    steps = training_steps(args, T)
    times = timed_rounds(steps, args.rounds)
    rows = []
    for name, (model, step) in steps.items():
        with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
            step()
        parts, gflop, fused_rnn = breakdown(prof.key_averages())
        ms = 1000 * statistics.median(times[name])
        mm = parts["matmuls"]
        network_gflop = gflop + (fused_rnn_gflop(model, args.batch * T) if fused_rnn else 0.0)
        rows.append(
            {
                "model": name,
                "T": T,
                "ms_median": ms,
                "profiled_ms": sum(parts.values()),
                "parts_ms": parts,
                "matmul_gflop": gflop,
                "matmul_gflops_per_s": gflop / (mm / 1000) if mm else None,
                "network_gflop": network_gflop,
                "implementation": describe(model, torch.device("cpu")),
            }
        )
        print(f"T={T:5d} {name:18s} {ms:9.1f} ms  matmuls {mm:8.1f} ms ({gflop:.1f} GFLOP)", flush=True)
    return rows


def report(rows: list[dict], args) -> str:
    """Markdown: per length, the parts of each model's step; then the ratios and their matmul bound."""
    lines = [
        "# Where a training step's time goes (scale=cpu)",
        "",
        f"Generated by `python scripts/profile_step.py` on {provenance()['device_name']} "
        f"({torch.get_num_threads()} threads), torch {torch.__version__}, float32, batch {args.batch}. "
        "Models: Figure 1's (the Table 2 network, 3 layers of width 64, expansion 1). Parts: operators' "
        "own CPU time in one profiled step (ms); step: median of "
        f"{args.rounds} unprofiled steps timed in interleaved rounds.",
    ]
    by = {(r["model"], r["T"]): r for r in rows}
    for T in args.lengths:
        models = [m for m in args.models if (m, T) in by]
        lines += ["", f"## T = {T}", "", "| part | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
        for part in ORDER:
            cells = []
            for m in models:
                r = by[m, T]
                cells.append(f"{r['parts_ms'][part]:.1f} ({100 * r['parts_ms'][part] / r['profiled_ms']:.0f}%)")
            lines.append(f"| {part} | " + " | ".join(cells) + " |")
        for label, key, fmt in (
            ("profiled step", "profiled_ms", "{:.1f}"),
            ("**step (unprofiled)**", "ms_median", "**{:.1f}**"),
            ("matmul GFLOP", "matmul_gflop", "{:.2f}"),
            ("matmul GFLOP/s", "matmul_gflops_per_s", "{:.0f}"),
            ("all matrix products, GFLOP", "network_gflop", "{:.2f}"),
        ):
            cells = [fmt.format(by[m, T][key]) if by[m, T][key] else "-" for m in models]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    pairs = [(a, b) for a, b in (("minGRU", "GRU (torch.nn)"), ("minLSTM", "LSTM (torch.nn)")) if a in args.models]
    pairs = [(a, b) for a, b in pairs if b in args.models]
    if pairs:
        lines += [
            "",
            "## Speedups and what bounds them",
            "",
            "Bound: the baseline's step over ours if only our matrix products remained, at the rate they ran",
            "(every other part free). Time outside the matrix products is what overhead work can still remove.",
            "FLOP ratio: the baseline's matrix-product FLOPs over ours (its fused recurrence counted from its",
            "shapes); on a machine where both run their products at the same rate, the speedup of the products.",
            "",
            "| T | ours vs torch.nn | speedup | bound | FLOP ratio | ours outside matmuls |",
            "|---|---|---|---|---|---|",
        ]
        for T in args.lengths:
            for a, b in pairs:
                if (a, T) not in by or (b, T) not in by:
                    continue
                ra, rb = by[a, T], by[b, T]
                share = 1 - ra["parts_ms"]["matmuls"] / ra["profiled_ms"]
                speedup = rb["ms_median"] / ra["ms_median"]
                bound = speedup / (1 - share)
                flops = rb["network_gflop"] / ra["network_gflop"]
                lines.append(
                    f"| {T} | {a} vs {b} | {speedup:.2f}x | {bound:.2f}x | {flops:.2f}x | {100 * share:.0f}% |"
                )
    return "\n".join(lines) + "\n"
