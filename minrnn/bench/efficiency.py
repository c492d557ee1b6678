"""Figures 1, 3 and 4 and a report, from the CSVs of minrnn.bench.training and .inference alone.

Writes training_<scale>.{png,pdf} (Figure 1: step time, speedup, memory against sequence length),
inference_<scale>.{png,pdf} (Figures 3-4: prefill + generation time against context length, one
panel per batch size), inference_memory_<scale>.{png,pdf} (state carried per token, time per
token) and efficiency_<scale>.md (tables, and the paper's T4 numbers beside ours, labelled). CPU-scale
rows feed the claims speedup, runtime-like-mamba, memory-vs-rnn, memory-mamba and figure4-inference
(make claims); speedup-magnitude needs a GPU.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import ScalarFormatter  # noqa: E402

from minrnn.bench import ROOT
from minrnn.harness import registry
from minrnn.harness.records import write_text_atomic
from minrnn.reader import UnreadableFile, read_json, read_text
from minrnn.reports.render import markdown_table, save_figure
from minrnn.reports.runs import paper_reference

STYLE = registry.styles()  # variant -> (colour, line style): dashed = the paper's plain-PyTorch variants
MARKERS = dict(zip(STYLE, "osovD^x+PX*hd<>" * 2, strict=False))  # distinct, so lines that coincide stay visible
SPEEDUPS = [  # (label, slower model, minimal model)
    ("minGRU vs GRU (plain loop)", "GRU (plain loop)", "minGRU"),
    ("minLSTM vs LSTM (plain loop)", "LSTM (plain loop)", "minLSTM"),
    ("minGRU vs GRU (torch.nn)", "GRU (torch.nn)", "minGRU"),
    ("minLSTM vs LSTM (torch.nn)", "LSTM (torch.nn)", "minLSTM"),
]


class MissingResults(RuntimeError):
    pass


def load(out: Path, kind: str, scale: str) -> tuple[pd.DataFrame, dict]:
    csv, meta = out / f"{kind}_{scale}.csv", out / f"{kind}_{scale}.json"
    if not csv.exists() or not meta.exists():
        raise MissingResults(f"no {csv.name} (+ .json) in {out}: run scripts/bench_{kind}.py --scale {scale}")
    try:
        df = pd.read_csv(io.StringIO(read_text(csv)))
        sidecar = read_json(meta)
    except (UnreadableFile, pd.errors.ParserError) as e:
        raise MissingResults(str(e)) from None
    if df.empty or "status" not in df:
        raise MissingResults(f"{csv} has no measurements")
    return df, sidecar


def models_line(meta: dict) -> str:
    s = meta["settings"]
    sets = [*s.get("fixed_overrides", []), *s.get("overrides", [])]
    return (
        "Models: the Table 2 configurations (`configs/model/*.yaml` with `task=selective_copy`: 3 layers, "
        f"width 64) with {', '.join(f'`{o}`' for o in sets) or 'no overrides'}."
    )


def label(meta: dict) -> str:
    s, p = meta["settings"], meta["sessions"][-1]
    dev = p["device_name"] + (f", {s['threads']} threads" if p["device"] == "cpu" else "")
    extra = f", {len(meta['sessions'])} sessions" if len(meta["sessions"]) > 1 else ""
    return f"{dev}; torch {p['torch']}, float32, scale={s['scale']}{extra}"


def log_axes(ax, xlabel: str, ylabel: str, ylog: bool = True) -> None:
    ax.set_xscale("log", base=2)
    if ylog:
        ax.set_yscale("log")
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.grid(True, which="major", alpha=0.3)


def pivot(df: pd.DataFrame, index: str, value: str, **where) -> pd.DataFrame:
    for k, v in where.items():
        df = df[df[k] == v]
    ok = df[df["status"] == "ok"]
    return ok.pivot_table(index=index, columns="model", values=value, aggfunc="first")


def training_figure(df: pd.DataFrame, meta: dict, out: Path, scale: str) -> list[Path]:
    t, mem = pivot(df, "T", "ms_median"), pivot(df, "T", "peak_mib")
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    for m in [m for m in STYLE if m in t]:
        c, ls = STYLE[m]
        axes[0].plot(t.index, t[m], ls, color=c, marker=MARKERS[m], ms=4, label=m)
        if m in mem:
            axes[2].plot(mem.index, mem[m], ls, color=c, marker=MARKERS[m], ms=4, label=m)
    for lab, slow, fast in SPEEDUPS:
        if slow in t and fast in t:
            c, _ = STYLE[slow]
            axes[1].plot(
                t.index, t[slow] / t[fast], "--" if "loop" in slow else "-", color=c, marker="o", ms=3, label=lab
            )
    axes[1].axhline(1, color="grey", lw=0.8)
    log_axes(axes[0], "sequence length", "training step (ms)")
    log_axes(axes[1], "sequence length", "speedup (x)", ylog=False)
    log_axes(axes[2], "sequence length", "peak memory (MiB)")
    axes[0].set_title("runtime")
    axes[1].set_title("speedup of minGRU / minLSTM")
    axes[2].set_title(f"memory ({meta['settings']['memory']})", fontsize=9)
    for ax in axes:
        ax.legend(fontsize=7)
    fig.suptitle(
        f"Training step (forward, loss, backward), batch {meta['settings']['batch']} - {label(meta)}", fontsize=10
    )
    return save_figure(fig, out / f"training_{scale}")


def inference_figures(df: pd.DataFrame, meta: dict, out: Path, scale: str) -> list[Path]:
    batches = sorted(df["batch"].unique())
    fig, axes = plt.subplots(1, len(batches), figsize=(4.3 * len(batches), 4.2), sharey=True, squeeze=False)
    for ax, b in zip(axes[0], batches, strict=True):
        t = pivot(df, "context", "total_ms", batch=b)
        for m in [m for m in STYLE if m in t]:
            ax.plot(t.index, t[m], STYLE[m][1], color=STYLE[m][0], marker=MARKERS[m], ms=5, mfc="none", label=m)
        log_axes(ax, "context length", "prefill + generation (ms)" if b == batches[0] else "")
        ax.set_title(f"batch {b}")
    axes[0][0].legend(fontsize=7)
    n = meta["settings"]["new_tokens"]
    fig.suptitle(f"Inference: context, then {n} generated tokens - {label(meta)}", fontsize=10)
    paths = save_figure(fig, out / f"inference_{scale}")

    b = max(batches)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, value, ylab in [
        (axes[0], "state_kib_end", "state carried between tokens (KiB)"),
        (axes[1], "ms_per_token", "time per generated token (ms)"),
    ]:
        t = pivot(df, "context", value, batch=b)
        for m in [m for m in STYLE if m in t]:
            ax.plot(t.index, t[m], STYLE[m][1], color=STYLE[m][0], marker=MARKERS[m], ms=5, mfc="none", label=m)
        log_axes(ax, "context length", ylab)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Generation after a context, batch {b} - {label(meta)}", fontsize=10)
    return paths + save_figure(fig, out / f"inference_memory_{scale}")


def md_table(df: pd.DataFrame, fmt: str, index_name: str) -> list[str]:
    rows = [[m, *("-" if pd.isna(v) else fmt.format(v) for v in row)] for m, row in df.iterrows()]
    return markdown_table(["model", *(f"{index_name}={c}" for c in df.columns)], rows)


def training_report(df: pd.DataFrame, meta: dict, ref: dict) -> list[str]:
    t, mem = pivot(df, "T", "ms_median"), pivot(df, "T", "peak_mib")
    order = [m for m in STYLE if m in t]
    s = meta["settings"]
    measured = f"Measured on {label(meta)}; batch {s['batch']}; median of up to {s['repeats']} steps after a warm-up"
    lines = ["## Training step (Figure 1)", "", f"{measured}; memory: {s['memory']}.", ""]
    lines += [models_line(meta), "", "Time per training step (ms):", ""]
    lines += md_table(t[order].T, "{:.1f}", "T")
    lines += ["", "Peak memory (MiB):", ""] + md_table(mem[[m for m in order if m in mem]].T, "{:.0f}", "T")
    bad = df[df["status"] != "ok"]
    if len(bad):
        lines += ["", "Not measured: " + "; ".join(f"{r.model} at T={r.T} ({r.status})" for r in bad.itertuples())]
    lines += ["", "### Beside the paper (T4 GPU; the paper's numbers, not ours)", ""]
    lines += ["| T | comparison | paper (T4) | ours |", "|---|---|---|---|"]
    for T, p in ref["speedup_over_traditional"].items():
        for (lab, slow, default), key in zip(SPEEDUPS[:2], ("minGRU_vs_GRU", "minLSTM_vs_LSTM"), strict=True):
            # the default backend (the fused kernel: C on CPU, the Triton loop on CUDA), and the paper's
            # own algorithm, the parallel log-space scan, which is what the paper's speedups time
            for fast, how in ((default, "default backend"), (f"{default} (log-space scan)", "parallel log-space scan")):
                if fast not in t:
                    continue
                ours = t[slow].get(int(T)) / t[fast].get(int(T)) if int(T) in t.index and slow in t else None
                nn_slow = slow.replace("plain loop", "torch.nn")
                fused = t[nn_slow].get(int(T)) / t[fast].get(int(T)) if int(T) in t.index and nn_slow in t else None
                lines.append(
                    f"| {T} | {lab} speedup, {how} | {p[key]}x | "
                    + (f"{ours:.2f}x" if ours else "-")
                    + (f" (vs torch.nn: {fused:.2f}x)" if fused else "")
                    + " |"
                )
    for T, p in ref["runtime_ms"].items():
        for m, v in p.items():
            ours = t[m].get(int(T)) if m in t and int(T) in t.index else None
            log = f"{m} (log-space scan)"  # the paper timed its parallel scan; on CUDA the default is the Triton loop
            par = t[log].get(int(T)) if log in t and int(T) in t.index else None
            lines.append(
                f"| {T} | {m} step time | {v} ms | "
                + (f"{ours:.1f} ms" if ours else "-")
                + (f" (parallel log-space scan: {par:.1f} ms)" if par else "")
                + " |"
            )
    T = max(mem.index) if len(mem) else None
    if T is not None and {"minGRU", "GRU (plain loop)", "Mamba"} <= set(mem.columns):
        extra = 100 * (mem.loc[T, "minGRU"] / mem.loc[T, "GRU (plain loop)"] - 1)
        mamba = 100 * (mem.loc[T, "Mamba"] / mem.loc[T, "minGRU"] - 1)
        lines.append(f"| {T} | minGRU memory vs GRU | ~+88% | {extra:+.0f}% (vs the plain loop) |")
        if "minGRU (log-space scan)" in mem:
            log = 100 * (mem.loc[T, "minGRU (log-space scan)"] / mem.loc[T, "GRU (plain loop)"] - 1)
            lines.append(f"| {T} | minGRU with the paper's log-space scan, memory vs GRU | ~+88% | {log:+.0f}% |")
        lines.append(f"| {T} | Mamba memory vs minGRU | +56% | {mamba:+.0f}% |")
    lines += """
How to read this: the paper's speedups compare a parallel scan on a GPU, where thousands of
threads evaluate all time steps at once, with a sequential GRU/LSTM in plain PyTorch. On a CPU
every model walks through time; what remains of the minimal models' advantage is that their
gates do not depend on h_{t-1}, so the per-step matrix product is gone.""".split("\n")
    T = max(t.index)
    for lab, slow, fast in SPEEDUPS:
        if slow in t and fast in t and T in t.index:
            lines.append(f"- {lab} at T={T}: {t.loc[T, slow] / t.loc[T, fast]:.2f}x here.")
    for m in ("minGRU", "minLSTM"):
        log = f"{m} (log-space scan)"
        if log in t and m in t:
            r = t.loc[T, log] / t.loc[T, m]
            lines.append(
                f"- The paper's log-space scan (Listings 5, 8, 10) is {r:.2f}x the time of {m}'s default "
                f"backend ({df[df.model == m].implementation.iloc[0]}) at T={T}."
            )
    return lines


def inference_report(df: pd.DataFrame, meta: dict) -> list[str]:
    b = int(df["batch"].max())
    total, tok = pivot(df, "context", "total_ms", batch=b), pivot(df, "context", "ms_per_token", batch=b)
    state = pivot(df, "context", "state_kib_end", batch=b)
    order = [m for m in STYLE if m in total]
    lines = [
        "## Inference (Figures 3-4)",
        "",
        f"Measured on {label(meta)}; context of random tokens, then "
        f"{meta['settings']['new_tokens']} greedy tokens; median of up to {meta['settings']['repeats']} runs.",
        "",
        models_line(meta),
        "",
        f"Prefill + generation at batch {b} (ms):",
        "",
    ]
    lines += md_table(total[order].T, "{:.1f}", "context")
    lines += ["", f"Time per generated token at batch {b} (ms):", ""] + md_table(tok[order].T, "{:.2f}", "context")
    lines += [
        "",
        f"State carried between generated tokens at batch {b} (KiB; the KV cache for the Transformer):",
        "",
    ] + md_table(state[order].T, "{:.1f}", "context")
    flat = [m for m in ("minGRU", "minLSTM") if m in state and state[m].nunique() == 1]
    if flat:
        sizes = ", ".join(f"{state[m].iloc[0]:.1f} KiB" for m in flat)
        lines += [
            "",
            f"{' and '.join(flat)}: the state is the same size at every context length "
            f"({sizes}): constant memory in the context.",
        ]
    ratio = []
    for bb in sorted(df["batch"].unique()):
        t = pivot(df, "context", "total_ms", batch=bb)
        if {"minGRU", "Mamba"} <= set(t.columns):
            c = t.index.max()
            gru = t.get("GRU (torch.nn)")
            gru = f", GRU / minGRU {gru[c] / t.loc[c, 'minGRU']:.2f}x" if gru is not None else ""
            ratio.append(f"batch {bb}: Mamba / minGRU {t.loc[c, 'Mamba'] / t.loc[c, 'minGRU']:.2f}x{gru} (context {c})")
    if ratio:
        lines += ["", "Ratios of total inference time (above 1: minGRU is faster): " + "; ".join(ratio) + "."]
    bad = df[df["status"] != "ok"]
    if len(bad):
        lines += [
            "",
            "Not measured: "
            + "; ".join(f"{r.model} batch {r.batch} context {r.context} ({r.status})" for r in bad.itertuples()),
        ]
    return lines


def add_arguments(ap) -> None:
    ap.add_argument("--scale", default="cpu")
    ap.add_argument("--results", type=Path, default=ROOT / "results/efficiency", help="where the CSVs are")
    ap.add_argument("--out", type=Path, help="where figures and report go (default: --results)")


def run(args, error) -> int:
    """Each figure and report section whose CSV exists; 2 when neither does."""
    out = args.out or args.results
    out.mkdir(parents=True, exist_ok=True)
    paper = paper_reference("figure1_training")
    lines = [f"# Efficiency at scale={args.scale}", "", "Generated by `scripts/make_figure1_3_4.py` from the CSVs."]
    written, missing = [], []
    for kind, fig, rep in [
        ("training", training_figure, lambda d, m: training_report(d, m, paper)),
        ("inference", inference_figures, inference_report),
    ]:
        try:
            df, meta = load(args.results, kind, args.scale)
        except MissingResults as e:
            missing.append(str(e))
            continue
        written += fig(df, meta, out, args.scale)
        lines += [""] + rep(df, meta)
    if len(missing) == 2:
        print("make_figure1_3_4: error: " + "; ".join(missing), file=sys.stderr)
        return 2
    for m in missing:
        print(f"make_figure1_3_4: note: {m}", file=sys.stderr)
    report = out / f"efficiency_{args.scale}.md"
    write_text_atomic(report, "\n".join(lines) + "\n")
    print("\n".join(lines))
    print("wrote " + ", ".join(str(p) for p in [*written, report]))
    return 0
