"""The speed card (issue 37): every implementation of minGRU/minLSTM and what it replaces, forward and
backward, at T = 512 ... 65,536 and B = 1, 16, 64; the Table 2 network's training step against
torch.nn's GRU/LSTM; and decoding tokens per second. One command per machine:

    make speed-card        # CPU (scale cpu), results/bench/speed_card.{md,json,png,pdf}, committed
    make gpu-speed-card    # GPU (scale gpu), results/gpu/speed_card.*; without a GPU: a dry run on CPU

Timing is minrnn.bench.timing's: in each cell (T, B) every row runs once per round, rounds rotate the
order, a ratio is taken per round and shown with its interquartile range (marked unreliable when wide).
The time is capped twice: a row whose first call at a cell takes longer than ``call_cap`` seconds, or
whose call is predicted to (its cost per token at a smaller cell, times this cell's tokens), is shown
"over budget" there; and a cell is skipped "over budget" when its warm-up and MIN_ROUNDS rounds would
not fit in what is left of ``budget``. On CPU, cells of more than ``max_tokens`` B x T are "over the
memory cap". Every cell that is not measured says why, in the table.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import torch

from minrnn.bench import ROOT, timing
from minrnn.bench.speed_rows import RATIOS, Unavailable, default_backend, rows
from minrnn.harness.records import add_replace_argument, check_replace, provenance, write_json_atomic, write_text_atomic

SCALES = {  # scale cpu: this 2-core machine, a budget; gpu: the full grid; dry: every row's code path, seconds
    "gpu": {"lengths": [512, 2048, 8192, 65536], "batches": [1, 16, 64], "dim": 64, "rounds": 7,
            "budget": 3000.0, "net_budget": 1200.0, "call_cap": 20.0, "max_tokens": None,
            "net_lengths": [512, 1024, 2048, 4096], "net_rounds": 7, "decode_tokens": 512},
    "cpu": {"lengths": [512, 4096, 65536], "batches": [1, 16, 64], "dim": 64, "rounds": 3,
            "budget": 480.0, "net_budget": 420.0, "call_cap": 2.0, "max_tokens": 1 << 20,
            "net_lengths": [512, 1024, 2048, 4096], "net_rounds": 5, "decode_tokens": 128},
    "dry": {"lengths": [16], "batches": [1, 2], "dim": 8, "rounds": 2,
            "budget": 60.0, "net_budget": 60.0, "call_cap": 5.0, "max_tokens": 24,
            "net_lengths": [16], "net_rounds": 2, "decode_tokens": 4},
}  # fmt: skip
NET_MODELS = ["minGRU", "minLSTM", "GRU (torch.nn)", "LSTM (torch.nn)"]  # minrnn.bench.grid.MODELS, the Table 2 network
NET_RATIOS = [
    ("GRU (torch.nn) / minGRU", "GRU (torch.nn)", "minGRU"),
    ("LSTM (torch.nn) / minLSTM", "LSTM (torch.nn)", "minLSTM"),
]


def synchronizer(device: torch.device):
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def fwd_bwd(fn, params: list, x: torch.Tensor, sync, forward: list) -> float:
    """One forward and backward of fn on x (the loss is the mean output): the forward's seconds are
    appended to ``forward``, the total returned."""
    for p in params:
        p.grad = None
    sync()
    t0 = time.perf_counter()
    out = fn(x)
    sync()
    t1 = time.perf_counter()
    out.float().mean().backward()
    sync()
    forward.append(t1 - t0)
    return time.perf_counter() - t0


def predicted(rates: dict, name: str, tokens: int) -> float | None:
    """Seconds a call of row ``name`` should take at ``tokens`` (B x T), from its largest measured cell."""
    return rates[name] * tokens if name in rates else None


def measure_cell(built: dict, B: int, T: int, cfg: dict, device, budget: timing.Budget, share: float, rates: dict):
    """{row: {"forward": [s], "total": [s]} or {"skipped": why}} at (T, B); ``rates`` (row -> seconds
    per token, from the largest cell measured so far) is updated."""
    tokens, out, runs, sync = B * T, {}, {}, synchronizer(device)
    x = torch.randn(B, T, cfg["dim"], device=device)
    for name, (fn, params) in built.items():
        guess = predicted(rates, name, tokens)
        if guess is not None and guess > cfg["call_cap"]:
            out[name] = {"skipped": f"over budget (about {guess:.1f} s a call; cap {cfg['call_cap']:g} s)"}
            continue
        forward: list[float] = []
        try:
            first = fwd_bwd(fn, params, x, sync, forward)
        except (RuntimeError, ValueError, NotImplementedError, torch.OutOfMemoryError) as e:
            out[name] = {"skipped": f"failed: {type(e).__name__}: {(str(e).splitlines() or [''])[0][:160]}"}
            continue
        rates[name] = first / tokens
        if first > cfg["call_cap"]:
            out[name] = {"skipped": f"over budget ({first:.1f} s a call; cap {cfg['call_cap']:g} s)"}
            continue
        out[name] = {"forward": forward}
        runs[name] = lambda fn=fn, params=params, fw=forward: fwd_bwd(fn, params, x, sync, fw)
    if runs:
        totals = timing.interleaved(runs, cfg["rounds"], share, time.perf_counter, log=lambda _: None)
        for name, ts in totals.items():
            out[name] = {"forward": out[name]["forward"][-len(ts) :], "total": ts}
            rates[name] = statistics.median(ts) / tokens
    return out


def layer_grid(cfg: dict, device, budget: timing.Budget, log=timing.say) -> tuple[list, dict]:
    """Every row at every cell that fits: (cells, each {T, B, rows} or {T, B, skipped}; {row: why not here})."""
    built, unavailable = {}, {}
    for row in rows():
        torch.manual_seed(0)
        try:
            built[row.name] = (lambda fn, mod: (fn, list(mod.parameters())))(*row.build(cfg["dim"], device))
        except Unavailable as e:
            unavailable[row.name] = str(e)
    cells = [(T, B) for T in cfg["lengths"] for B in cfg["batches"]]
    cells.sort(key=lambda c: c[0] * c[1])
    rates: dict[str, float] = {}
    out = []
    for i, (T, B) in enumerate(cells):
        left = budget.left()
        guesses = [predicted(rates, n, B * T) or 0.0 for n in built]  # rows over the call cap will not run
        need = (2 + timing.MIN_ROUNDS) * sum(g for g in guesses if g <= cfg["call_cap"])
        if cfg["max_tokens"] and B * T > cfg["max_tokens"]:
            out.append({"T": T, "B": B, "skipped": f"over the memory cap ({cfg['max_tokens']} tokens B x T)"})
        elif need > left:
            out.append(
                {"T": T, "B": B, "skipped": f"over budget (needs about {need:.0f} s, {max(left, 0):.0f} s left)"}
            )
        else:
            log(f"T={T} B={B}: {len(built)} rows, up to {cfg['rounds']} interleaved rounds")
            share = left / (len(cells) - i)  # an equal share of what is left, per cell still to come
            out.append({"T": T, "B": B, "rows": measure_cell(built, B, T, cfg, device, budget, share, rates)})
        if "skipped" in out[-1]:
            log(f"T={T} B={B}: {out[-1]['skipped']}")
    return out, unavailable


def cell_ratios(rows_: dict, device) -> dict:
    """label -> {"median", "q1", "q3", "rounds", "not_a_result"} for each of RATIOS measured in a cell;
    MinGRU/MinLSTM are the rows with the device's default scan."""
    ours = {c: default_backend(c, device) for c in ("MinGRU", "MinLSTM")}
    out = {}
    for label, num, den in RATIOS:
        num, den = ours.get(num, num), ours.get(den, den)
        if "total" in rows_.get(num, {}) and "total" in rows_.get(den, {}):
            s, why = timing.ratio(rows_[num]["total"], rows_[den]["total"])
            out[label] = {"median": s.median, "q1": s.q1, "q3": s.q3, "rounds": s.n, "not_a_result": why}
    return out


def network(cfg: dict, device, budget: timing.Budget, batch: int, log=timing.say) -> list[dict]:
    """The Table 2 network's training step (minrnn.bench.grid: 3 layers of width 64, expansion 1; forward,
    cross-entropy, backward) of NET_MODELS in interleaved rounds per length, with the ratios' spread."""
    from minrnn.bench import grid

    out, prev = [], None
    for i, T in enumerate(cfg["net_lengths"]):
        left = budget.left()
        if prev and timing.expected_cost(*prev, T) > left:
            out.append({"T": T, "skipped": f"over budget (needs about {timing.expected_cost(*prev, T):.0f} s)"})
            continue
        log(f"Table 2 network, T={T}: {len(NET_MODELS)} models, up to {cfg['net_rounds']} interleaved rounds")
        steps = {}
        for name in NET_MODELS:
            torch.manual_seed(0)
            model, vocab = grid.build_model(name, "cpu", [], device)
            x, y = (torch.randint(0, vocab, (batch, T), device=device) for _ in range(2))
            step, sync = grid.training_step(model, x, y), synchronizer(device)
            steps[name] = lambda step=step, sync=sync: _timed(step, sync)
        start = time.perf_counter()
        share = left / (len(cfg["net_lengths"]) - i)
        times = timing.interleaved(steps, cfg["net_rounds"], share, time.perf_counter, log)
        rounds = len(next(iter(times.values())))
        prev = (T, (time.perf_counter() - start) / (rounds + 1))
        ratios = {}
        for label, num, den in NET_RATIOS:
            s, why = timing.ratio(times[num], times[den])
            ratios[label] = {"median": s.median, "q1": s.q1, "q3": s.q3, "rounds": s.n, "not_a_result": why}
        out.append({"T": T, "seconds": times, "ratios": ratios})
    return out


def _timed(fn, sync) -> float:
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


DECODE_MODELS = {  # name: (the block's rnn, fast step)
    "minGRU": ("mingru", True),
    "minLSTM": ("minlstm", True),
    "minGRU (eager step)": ("mingru", False),
    "minLSTM (eager step)": ("minlstm", False),
    "GRU (torch.nn)": ("minrnn.baselines.torch_rnn.GRULayer", True),  # the eager step: problem() says why
    "LSTM (torch.nn)": ("minrnn.baselines.torch_rnn.LSTMLayer", True),
}


def decoding(cfg: dict, device, log=timing.say) -> list[dict]:
    """Tokens per second of the Table 2 network's recurrent models decoding greedily at each batch size
    (minrnn.bench.decoding.decode_times, the one decoding loop: a prompt prefilled untimed, then one step
    per token), and how each stepped (``step``: minrnn.decode's fast step, or the eager step and why)."""
    from minrnn import SequenceModel
    from minrnn.bench.decoding import decode_times, rates
    from minrnn.decode import Decoder, problem

    out, n = [], cfg["decode_tokens"]
    for B in cfg["batches"]:
        log(f"decoding, B={B}: {n} tokens per model, up to {cfg['rounds']} interleaved rounds")
        models, steps = {}, {}
        for name, (rnn, fast_step) in DECODE_MODELS.items():
            torch.manual_seed(0)
            model = SequenceModel(dim=64, depth=3, dim_out=16, vocab_size=16, block={"rnn": rnn}).to(device).eval()
            why = problem(model) if fast_step else "fast_step=False"
            steps[name] = f"minrnn.decode ({Decoder(model, B).path})" if why is None else f"eager ({why})"
            models[name] = (model, why is None)  # as generate: the eager step where the fast one does not apply
        times = decode_times(models, B, n, cfg["rounds"], 60.0, log=lambda _: None)
        for name, s in rates(times, B, n).items():
            out.append(
                {"model": name, "B": B, "tokens_per_s": s.median, "q1": s.q1, "q3": s.q3, "rounds": s.n}
                | {"step": steps[name]}
            )
    return out


def add_arguments(ap) -> None:
    ap.add_argument("--scale", choices=["cpu", "gpu"], default="cpu", help="gpu without CUDA: the dry run on CPU")
    ap.add_argument("--budget", type=float, help="seconds for the layer grid (default: the scale's)")
    ap.add_argument(
        "--threads", type=int, default=0, help="torch threads on CPU (0: 1 on a loaded machine, else torch's default)"
    )
    ap.add_argument("--net-batch", type=int, default=64, help="batch of the Table 2 network's steps")
    ap.add_argument("--out", type=Path, help="default results/bench (cpu), results/gpu (gpu), outputs/ (dry run)")
    add_replace_argument(ap)


def run(args, error) -> int:
    """The card on this machine: the layer grid, the network's steps, decoding; Markdown, JSON and plot."""
    scale = args.scale
    device = torch.device("cuda" if scale == "gpu" and torch.cuda.is_available() else "cpu")
    if scale == "gpu" and device.type == "cpu":
        scale = "dry"
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported: its kernels on CPU tensors
        timing.say("speed card: no CUDA device, so a dry run on CPU at tiny sizes (every row's code path)")
    cfg = dict(SCALES[scale]) | ({"budget": args.budget} if args.budget is not None else {})  # 0 is refused
    if cfg["budget"] <= 0 or args.threads < 0 or args.net_batch < 1:
        error("budget and net-batch must be positive, threads >= 0")
    out = args.out or ROOT / {"cpu": "results/bench", "gpu": "results/gpu", "dry": "outputs/speed_card_dry"}[scale]
    # the thread count is the machine's choice (--threads 0: by the load), kept in the record, not compared
    check_replace(out / "speed_card.json", cfg | {"net_batch": args.net_batch}, args.replace, ("threads",), timing.say)
    before = timing.load_average()
    if device.type == "cpu":  # on a loaded machine the threads of one operator wait on each other (timing.threads_for)
        torch.set_num_threads(args.threads or timing.threads_for(before, timing.cores(), torch.get_num_threads()))
    started = time.perf_counter()
    cells, unavailable = layer_grid(cfg, device, timing.Budget(cfg["budget"]))
    net = network(cfg, device, timing.Budget(cfg["net_budget"]), 2 if scale == "dry" else args.net_batch)
    dec = decoding(cfg, device)
    load = timing.load_line(before, timing.load_average(), timing.cores(), torch.get_num_threads())
    for cell in cells:
        if "rows" in cell:
            cell["ratios"] = cell_ratios(cell["rows"], device)
    record = {
        "benchmark": "speed_card",
        "scale": scale,
        "dry_run": scale == "dry",
        "config": cfg | {"threads": torch.get_num_threads(), "net_batch": args.net_batch},
        "provenance": provenance(device),
        "load": load,
        "seconds": round(time.perf_counter() - started, 1),
        "unavailable": unavailable,
        "cells": cells,
        "network": net,
        "decoding": dec,
    }
    from minrnn.bench.speed_report import markdown, plot

    table = markdown(record)
    write_json_atomic(out / "speed_card.json", record)
    write_text_atomic(out / "speed_card.md", table)
    plot(record, out / "speed_card")
    print("\n" + table)
    timing.say(f"speed card{' (dry run)' if scale == 'dry' else ''}: wrote {out}/speed_card.{{md,json,png,pdf}}")
    return 0
