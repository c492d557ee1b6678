"""Decoding speed (issue #37): tokens per second of greedy generation after a short prompt, for the
Shakespeare models (Figure 2's architecture: experiment=figure2, at scale=cpu and scale=paper).

minGRU and minLSTM step through the fast decoder (minrnn.decode, what ``generate`` uses) and through
the eager ``SequenceModel.step`` (the reference); beside them the same network with torch.nn.GRU and
torch.nn.LSTM stepping (the gru/lstm model configs) and the Transformer stepping with its KV cache.
Each configuration is built once; every round runs each once (timing.interleaved), and a ratio of
tokens per second is taken per round. The prompt's prefill is not timed; building the decoder is.
Tokens per second count every row: batch x new tokens / seconds.

``decode_times`` is the one decoding loop: this benchmark and the speed card (minrnn.bench.speed_card)
time through it; ``decode_tokens_per_second(model, batch, ...)`` measures one model on its own.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from torch import nn

from minrnn.bench import timing
from minrnn.decode import Decoder
from minrnn.harness import records
from minrnn.harness.records import provenance, write_json_atomic, write_text_atomic

VOCAB = 65  # Tiny Shakespeare's characters (minrnn.tasks.shakespeare)
CONTENDERS = {  # name: (model config, fast step)
    "minGRU (fast step)": ("mingru", True),
    "minGRU (eager step)": ("mingru", False),
    "minLSTM (fast step)": ("minlstm", True),
    "minLSTM (eager step)": ("minlstm", False),
    "GRU (nn.GRU step)": ("gru", False),
    "LSTM (nn.LSTM step)": ("lstm", False),
    "Transformer (KV cache)": ("transformer", False),
}
RATIOS = [  # label, numerator, denominator: tokens per second of the first over the second
    ("minGRU fast / eager", "minGRU (fast step)", "minGRU (eager step)"),
    ("minLSTM fast / eager", "minLSTM (fast step)", "minLSTM (eager step)"),
    ("minGRU fast / GRU", "minGRU (fast step)", "GRU (nn.GRU step)"),
    ("minLSTM fast / LSTM", "minLSTM (fast step)", "LSTM (nn.LSTM step)"),
    ("minGRU fast / Transformer", "minGRU (fast step)", "Transformer (KV cache)"),
    ("minLSTM fast / Transformer", "minLSTM (fast step)", "Transformer (KV cache)"),
    ("GRU / Transformer", "GRU (nn.GRU step)", "Transformer (KV cache)"),
]


def shakespeare_model(key: str, scale: str) -> nn.Module:
    """The model config ``key`` as Figure 2 builds it at ``scale`` (experiment=figure2), in eval mode."""
    from hydra import compose, initialize_config_dir

    from minrnn.harness.config import CONFIGS, register_resolvers
    from minrnn.harness.train import instantiate

    register_resolvers()
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose("train", overrides=["experiment=figure2", f"model={key}", f"scale={scale}"])
    return instantiate(cfg.model.net, skip=("_target_",), dim_out=VOCAB, vocab_size=VOCAB).eval()


@torch.no_grad()
def decode_seconds(model: nn.Module, batch: int, new_tokens: int, fast_step: bool, prompt_len: int = 16) -> float:
    """Seconds to generate ``new_tokens`` greedily per row after a random prompt (prefilled, untimed):
    through minrnn.decode.Decoder with ``fast_step``, else with model.step (RNN state or KV cache). On
    CUDA the device is synchronised before and after: the seconds are the GPU's too."""
    device = next(model.parameters()).device
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    vocab = getattr(model, "vocab_size", None) or VOCAB
    prompt = torch.randint(0, vocab, (batch, prompt_len), generator=torch.Generator().manual_seed(0)).to(device)
    logits, state = model(prompt, return_state=True)
    token = logits[:, -1].argmax(-1)
    sync()
    start = time.perf_counter()
    if fast_step:
        decoder = Decoder(model, batch)
        decoder.load(state)
        for _ in range(new_tokens):
            token = decoder.step(token).argmax(-1)
    else:
        for _ in range(new_tokens):
            logits, state = model.step(token, state)
            token = logits.argmax(-1)
    sync()
    return time.perf_counter() - start


def decode_times(
    models: dict, batch: int, new_tokens: int, rounds: int, share: float = math.inf, log=timing.say
) -> dict:
    """{name: [seconds per round]} of each ``name: (model, fast_step)`` decoding (decode_seconds): a warm-up
    of each, then up to ``rounds`` interleaved rounds while they fit in ``share`` seconds (timing.interleaved)."""
    runs = {name: _runner(model, batch, new_tokens, fast_step) for name, (model, fast_step) in models.items()}
    return timing.interleaved(runs, rounds, share, time.perf_counter, log)


def rates(times: dict, batch: int, new_tokens: int) -> dict:
    """{name: timing.Spread of tokens per second}: every row counts, batch x new tokens / seconds, per round."""
    return {name: timing.Spread.of([batch * new_tokens / s for s in ts]) for name, ts in times.items()}


def decode_tokens_per_second(
    model: nn.Module, batch: int = 1, new_tokens: int = 256, fast_step: bool = True, repeats: int = 3
) -> timing.Spread:
    """Tokens per second (batch x new_tokens / seconds) of ``model`` decoding greedily, over ``repeats``
    runs after one warm-up: median and quartiles. ``fast_step`` needs a model minrnn.decode takes."""
    times = decode_times({"model": (model, fast_step)}, batch, new_tokens, repeats, log=lambda _: None)
    return rates(times, batch, new_tokens)["model"]


def add_arguments(ap) -> None:
    ap.add_argument("--scales", nargs="+", default=["cpu", "paper"], choices=["cpu", "paper"])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5, help="timed rounds per configuration, at most")
    ap.add_argument("--budget", type=float, default=900.0, help="seconds for the whole benchmark (rounds stop)")
    ap.add_argument("--models", nargs="+", default=list(CONTENDERS), choices=list(CONTENDERS), metavar="MODEL")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, 1 on a loaded machine)")
    ap.add_argument("--out", type=Path, default=Path("results/bench"))
    records.add_replace_argument(ap)


def run(args, error) -> int:
    """Every model at every (scale, batch): tokens per second and their ratios, written to <out>/decoding.*"""
    if min(args.batches) < 1 or args.new_tokens < 1 or args.repeats < 1 or args.threads < 0 or args.budget <= 0:
        error("batches, new tokens, repeats and budget must be positive")
    records.check_replace(args.out / "decoding.json", records.args_config(args), args.replace, say=timing.say)
    before = timing.load_average()
    torch.set_num_threads(args.threads or timing.threads_for(before, timing.cores(), torch.get_num_threads()))
    timing.say(
        f"decoding benchmark: load average {before:.1f} on {timing.cores()} cores, {torch.get_num_threads()} threads"
    )
    budget, cells = timing.Budget(args.budget), [(s, b) for s in args.scales for b in args.batches]
    record = {"benchmark": "decoding", "config": records.args_config(args), "provenance": provenance()}
    record["cells"] = []  # provenance first: the commit measured, before the results make the tree dirty
    for i, (scale, batch) in enumerate(cells):
        torch.manual_seed(0)
        models = {key: shakespeare_model(key, scale) for key in {CONTENDERS[m][0] for m in args.models}}
        timing.say(f"scale={scale} batch={batch}: warm-up, then up to {args.repeats} rounds")
        share = budget.left() / (len(cells) - i)
        chosen = {name: (models[CONTENDERS[name][0]], CONTENDERS[name][1]) for name in args.models}
        times = decode_times(chosen, batch, args.new_tokens, args.repeats, share)
        record["cells"].append(summarise(scale, batch, args.new_tokens, times, models))
    record["load"] = timing.load_line(before, timing.load_average(), timing.cores(), torch.get_num_threads())
    table = report(record)
    print("\n" + table)
    write_json_atomic(args.out / "decoding.json", record)
    write_text_atomic(args.out / "decoding.md", table)
    return 0


def _runner(model: nn.Module, batch: int, new_tokens: int, fast_step: bool):
    return lambda: decode_seconds(model, batch, new_tokens, fast_step)


def summarise(scale: str, batch: int, new_tokens: int, times: dict, models: dict) -> dict:
    """One (scale, batch): tokens per second of each model (median, quartiles) and the ratios."""
    rows = {}
    for name, s in rates(times, batch, new_tokens).items():
        params = sum(p.numel() for p in models[CONTENDERS[name][0]].parameters())
        rows[name] = {"tokens_per_s": s.median, "q1": s.q1, "q3": s.q3, "rounds": s.n, "parameters": params}
    ratios = {}
    for label, num, den in RATIOS:
        if num in times and den in times:
            s, why = timing.ratio(times[den], times[num])  # tokens/s of num over den = seconds of den over num
            ratios[label] = {"median": s.median, "q1": s.q1, "q3": s.q3, "rounds": s.n, "not_a_result": why}
    return {"scale": scale, "batch": batch, "new_tokens": new_tokens, "rows": rows, "ratios": ratios}


def report(record: dict) -> str:
    """Markdown: per (scale, batch), tokens per second of every model and the ratios."""
    c = record["config"]
    lines = [
        "# Decoding: tokens per second, greedy, after a 16-token prompt",
        "",
        f"Generated by `python scripts/bench_decoding.py` (`make bench-decoding`) on "
        f"{record['provenance']['device_name']} ({record['provenance']['torch_threads']} torch threads), torch "
        f"{record['provenance']['torch']}, commit {record['provenance']['git_commit']}. Figure 2's Shakespeare models "
        f"(experiment=figure2) at each scale, {c['new_tokens']} new tokens per row; tokens per second = batch x new "
        f"tokens / seconds, prefill not timed. Median of up to {c['repeats']} interleaved rounds (interquartile "
        "range); "
        f"a ratio is taken per round, and one whose range is wider than {timing.MAX_SPREAD:.0%} of its median is "
        "marked unreliable.",
        "",
        record["load"],
    ]
    for cell in record["cells"]:
        lines += ["", f"## scale={cell['scale']}, batch {cell['batch']}", "", "| model | parameters | tokens/s |"]
        lines.append("|---|---|---|")
        for name, r in cell["rows"].items():
            lines.append(f"| {name} | {r['parameters']:,} | {r['tokens_per_s']:.0f} ({r['q1']:.0f}-{r['q3']:.0f}) |")
        lines += ["", "| ratio of tokens/s | value |", "|---|---|"]
        for label, r in cell["ratios"].items():
            cell_text = timing.ratio_cell(timing.Spread(r["median"], r["q1"], r["q3"], r["rounds"]), r["not_a_result"])
            lines.append(f"| {label} | {cell_text} |")
    return "\n".join(lines) + "\n"
