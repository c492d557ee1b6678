"""Numbers in the docs that come from results/: each lives in a block between two markers,

    <!-- generated: NAME (python scripts/make_docs.py) -->
    ...
    <!-- end: NAME -->

rewritten from the committed results by ``scripts/make_docs.py`` (``make docs``; the benchmarks' make
targets run it) and checked equal to that by tests/test_doc_blocks.py, so prose never drifts from files.
Every input is a results file or data a report module owns (the claims' longer runs: runs.yaml).
"""

from __future__ import annotations

import contextlib
import math
import sys
from pathlib import Path

from minrnn.files import write_text
from minrnn.formats import short_commit
from minrnn.reader import UnreadableFile, read_csv, read_json, read_text
from minrnn.reports.runs import ROOT


def markers(name: str) -> tuple[str, str]:
    return f"<!-- generated: {name} (python scripts/make_docs.py) -->", f"<!-- end: {name} -->"


def read_block(path: Path, name: str, text: str | None = None) -> str:
    """The block ``name`` of ``path`` (its ``text`` when already read); UnreadableFile without its markers."""
    start, end = markers(name)
    text = read_text(path) if text is None else text
    if start not in text or end not in text:
        raise UnreadableFile(path, f"has no block {name!r} (markers {start} ... {end})")
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the block ``name`` rewritten to ``body`` (its markers checked by read_block)."""
    start, end = markers(name)
    before, rest = text.split(start, 1)
    return before + start + "\n" + body.strip("\n") + "\n" + end + rest.split(end, 1)[1]


@contextlib.contextmanager
def made_from(path: Path):
    """Inside, data of ``path`` that is not what a block needs (no rows, a missing row or key, a cell that is
    not a number) is an UnreadableFile naming the file: one line from make_docs, never a traceback. Every
    generator reads each of its files inside one of these, so the message names the file at fault."""
    try:
        yield
    except UnreadableFile:
        raise
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError, AttributeError) as e:
        why = f"no {e}" if isinstance(e, KeyError) else str(e) or type(e).__name__
        why = "no rows it needs" if "empty sequence" in why else why  # max() of no rows
        raise UnreadableFile(path, f"not what the docs' blocks are made from ({why})") from None


def measured(cell) -> float:
    """A measurement a block quotes (a time, a size): a number, finite and not negative; 'nan', 'inf' and
    '-3' are ValueErrors (inside made_from: one line naming the file), not 'nanx' written into the docs."""
    value = float(cell)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{cell!r} is not a measurement (a finite number, not negative)")
    return value


def layer_benchmark(results: Path) -> str:
    """docs/library.md's table of the layer benchmark at its longest T (results/bench/layers.json)."""
    with made_from(results / "bench" / "layers.json"):
        return _layer_benchmark(read_json(results / "bench" / "layers.json"))


def _layer_benchmark(rec: dict) -> str:
    T = max(r["T"] for r in rec["rows"])
    t = {r["model"]: r["seconds"] * 1000 for r in rec["rows"] if r["T"] == T}
    ratio = {k: v[str(T)] for k, v in rec["ratios"].items()}
    p, cfg = rec["provenance"], rec["config"]

    def at(v: dict) -> str:  # the same ratio at shorter lengths
        shorter = [f"{v[str(n)]:.2f}x at T = {n}" for n in (512, 1024) if str(n) in v and n != T]
        return f" ({', '.join(shorter)})" if shorter else ""

    rows = [
        "| | time | ratio |",
        "|---|---|---|",
        f"| MinGRU (`cpu` backend) | {t['MinGRU']:.0f} ms | |",
        f"| MinGRU's own Linear projections alone | {t['MinGRU projections only']:.0f} ms "
        f"| MinGRU is {ratio['MinGRU / its projections']:.2f}x its projections |",
        f"| torch.nn.GRU (fused) | {t['nn.GRU (fused)']:.0f} ms "
        f"| MinGRU {ratio['nn.GRU (fused) / MinGRU']:.2f}x faster |",
        f"| GRU as a plain PyTorch loop | {t['GRU loop (plain PyTorch)']:.0f} ms "
        f"| MinGRU {ratio['GRU loop / MinGRU']:.2f}x faster |",
        f"| MinGRU with the paper's log-space scan | {t['MinGRU (log-space scan)']:.0f} ms "
        f"| MinGRU {ratio['log-space MinGRU / MinGRU']:.1f}x faster |",
        f"| MinLSTM (`cpu`) vs torch.nn.LSTM (fused) | {t['MinLSTM']:.0f} vs {t['nn.LSTM (fused)']:.0f} ms "
        f"| {ratio['nn.LSTM (fused) / MinLSTM']:.2f}x faster{at(rec['ratios']['nn.LSTM (fused) / MinLSTM'])} |",
    ]
    packed = "packed MinGRU / MinGRU"
    if packed in ratio:
        gru, lstm = (t[f"{m}, packed (a reset every 256 steps)"] for m in ("MinGRU", "MinLSTM"))
        rows.append(
            f"| MinGRU / MinLSTM on packed sequences (a reset every 256 steps) | {gru:.0f} / {lstm:.0f} ms "
            f"| {ratio[packed]:.2f}x / {ratio['packed MinLSTM / MinLSTM']:.2f}x the time without resets |"
        )
    head = (
        f"Measured on {p['device_name']} ({p['torch_threads']} threads; `make bench`, full table in "
        "[results/bench/layers.md](../results/bench/layers.md)), forward+backward, "
        f"batch {cfg['batch']}, hidden {cfg['dim']}, T = {T}, every model timed once per round over "
        f"{cfg['repeats']} interleaved rounds (a machine that drifts slows all of them alike); "
        f"{p['date'][:10]} at {short_commit(p['git_commit'], 7)}:"
    )
    return head + "\n\n" + "\n".join(rows)


def results_file(name: str):
    """A committed results table, without its heading: docs show the file's own text, never a copy."""

    def make(results: Path) -> str:
        lines = read_text(results / name).splitlines()
        return "\n".join(lines[1:] if lines and lines[0].startswith("#") else lines).strip("\n")

    make.__doc__ = f"results/{name} without its heading"
    return make


def claims_runs_table(results: Path) -> str:
    """docs/results.md's table of the longer claims runs (minrnn/reports/claims/runs.yaml): seeds, steps,
    test metric and time (every stretch)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from minrnn.harness.config import CONFIGS, register_resolvers
    from minrnn.reports.claims import longer_run_cells
    from minrnn.reports.runs import load_runs, preset_identities, time_note

    register_resolvers()
    lines = [
        "| run (configs/experiment/claims/) | results | seeds | steps | test metric | time |",
        "|---|---|---|---|---|---|",
    ]
    for label, overrides in longer_run_cells():
        with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
            cfg = OmegaConf.to_container(compose("train", [*overrides, "scale=cpu"]), resolve=True)
        ident = preset_identities({0: overrides}, "cpu")[0]
        folder = results / cfg["task"]["name"] / "cpu"
        key = "test_loss" if cfg["task"]["name"] == "shakespeare" else "test_acc"
        runs = [r for r in load_runs(folder, "cpu", key)[0] if r["_identity"] == ident]
        if not runs:
            lines.append(f"| {label} | results/{cfg['task']['name']}/cpu | not run | | | |")
            continue
        values = ", ".join(f"{r['metrics'][key]:.3f}" for r in sorted(runs, key=lambda r: r["seed"]))
        steps = "/".join(str(s) for s in sorted({r["metrics"]["steps"] for r in runs}))
        seeds = ",".join(str(r["seed"]) for r in sorted(runs, key=lambda r: r["seed"]))
        lines.append(
            f"| {label} | results/{cfg['task']['name']}/cpu | {seeds} | {steps} | {key} {values} | {time_note(runs)} |"
        )
    return "\n".join(lines)


def figure1_summary(results: Path) -> str:
    """Figure 1 at its longest T: one training step's time and peak memory per model (training_cpu.csv)."""
    path = results / "efficiency" / "training_cpu.csv"
    with made_from(path):
        rows = [r for r in read_csv(path) if r["status"] == "ok"]
        T = max(int(r["T"]) for r in rows)
        lines = [f"| T = {T}, one training step | time (ms) | peak memory (MiB) |", "|---|---|---|"]
        for r in (r for r in rows if int(r["T"]) == T):
            lines.append(f"| {r['model']} | {measured(r['ms_median']):.1f} | {measured(r['peak_mib']):.0f} |")
    return "\n".join(lines)


def claims_status(results: Path) -> str:
    """The README's claims line, from results/claims_cpu.json."""
    from collections import Counter

    with made_from(results / "claims_cpu.json"):
        claims = read_json(results / "claims_cpu.json")["claims"]
        paper = [r for r in claims if r.get("section", "paper") == "paper"]
        n = Counter(r["verdict"] for r in paper)

    def verb(k: str, one: str, many: str) -> str:  # "1 holds", "10 hold"
        return f"{n[k]} {one if n[k] == 1 else many}"

    return (
        "Claims status at CPU scale (`make claims`, [docs/results.md](docs/results.md)): "
        f"of the paper's {len(paper)} claims, {verb('holds', 'holds', 'hold')},\n{n['partly holds']} partly, "
        f"{verb('does not hold', 'does not', 'do not')}, "
        f"{verb('inconclusive', 'is inconclusive', 'are inconclusive')}, "
        f"{n['budget-limited']} budget-limited, {verb('not run', 'needs', 'need')} data, a GPU or\nmamba-ssm's kernel."
    )


def timings(results: Path) -> str:
    """docs/development.md's Times table, from results/timings/*.json (scripts/time_command.py)."""
    lines = ["| command | time | measured | what |", "|---|---|---|---|"]
    for path in sorted((results / "timings").glob("*.json")):
        with made_from(path):
            t = read_json(path)
            m, s = divmod(round(t["seconds"]), 60)
            p = t["provenance"]
            where = (
                f"{p['date'][:10]} at {short_commit(t['commit'], 7)}, {p['device_name']}, "
                f"load {t['load_average_before']:.1f}"
            )
            where += "" if t["exit_code"] == 0 else f", exit {t['exit_code']}"
            lines.append(f"| `{t['command']}` | {m} min {s} s | {where} | {t['what']} |")
    return "\n".join(lines)


def training_summary(results: Path) -> str:
    """docs/results.md's paragraph on Figure 1's training step (results/efficiency/training_cpu.*,
    scripts/bench_training.py): minGRU/minLSTM against the loops and torch.nn at T = 512, 1024 and the
    longest T, the cost of a token across T, and Mamba's memory per token."""
    folder = results / "efficiency"
    with made_from(folder / "training_cpu.json"):
        rec = read_json(folder / "training_cpu.json")
        (session,) = rec["sessions"]
        batch = int(rec["settings"]["batch"])
    with made_from(folder / "training_cpu.csv"):
        rows = [r for r in read_csv(folder / "training_cpu.csv") if r["status"] == "ok"]
        ms = {(r["model"], int(r["T"])): measured(r["ms_median"]) for r in rows}
        mib = {(r["model"], int(r["T"])): measured(r["peak_mib"]) for r in rows}
        T, dates = max(t for _, t in ms), sorted(r["date"] for r in rows)
        lengths = sorted({t for m, t in ms if m == "LSTM (torch.nn)"})

        def x(slow: str, fast: str, t: int = T) -> str:  # how many times faster, as prose writes it
            return f"{ms[(slow, t)] / ms[(fast, t)]:.1f}x"

        def us(model: str, t: int) -> float:  # microseconds per token of a batch
            return ms[(model, t)] * 1000 / (batch * t)

        lstm = [us("LSTM (torch.nn)", t) for t in lengths]
        mine = [us("minLSTM", t) for t in lengths]
        saved = 1 - mib[("minGRU", T)] / mib[("GRU (plain loop)", T)]
        mamba = mib[("Mamba", T)]
        return (
            f"Measured {dates[0][:10]} {dates[0][11:16]}-{dates[-1][11:16]} at "
            f"{short_commit(session['git_commit'], 7)} on "
            f"{session['device_name']} with {session['cpu_count']} cores, batch {batch}\n"
            "([results/efficiency/training_cpu.csv](../results/efficiency/training_cpu.csv)). minGRU is "
            f"{x('GRU (plain loop)', 'minGRU')} faster than the GRU loop and\n{x('GRU (torch.nn)', 'minGRU')} "
            f"faster than torch.nn.GRU in the same network ({x('GRU (torch.nn)', 'minGRU', 512)} at T = 512), and "
            f"uses {saved:.0%} less memory than the loop;\nminLSTM is {x('LSTM (plain loop)', 'minLSTM')} the LSTM "
            f"loop and {x('LSTM (torch.nn)', 'minLSTM')} torch.nn.LSTM at T = {T}, but only "
            f"{x('LSTM (torch.nn)', 'minLSTM', 512)} at T = 512 and {x('LSTM (torch.nn)', 'minLSTM', 1024)} at\n"
            f"1024: torch.nn.LSTM's CPU kernel (oneDNN) costs {min(lstm):.0f}-{max(lstm):.0f} µs per token, up and "
            f"down from one length to the next\n({us('LSTM (torch.nn)', 512):.1f} at T = 512, "
            f"{us('LSTM (torch.nn)', T):.1f} at {T}), against minLSTM's steady {min(mine):.1f}-{max(mine):.1f}. "
            f"A token costs minGRU {us('minGRU', T) / us('minGRU', 512):.2f}x\nand minLSTM "
            f"{us('minLSTM', T) / us('minLSTM', 512):.2f}x at T = {T} what it costs at T = 512. Mamba's "
            f"{mamba / 1024:.1f} GiB at T = {T} is {mamba * 1024 / (batch * T):.0f} KiB per token."
        )


def inference_summary(results: Path) -> str:
    """docs/results.md's inference paragraph (results/efficiency/inference_cpu.* and its compiled_step/
    twin, scripts/bench_inference.py): batch 64 after the longest context, and the compiled step's gain."""
    folder = results / "efficiency"
    commit = {}
    for twin in (folder, folder / "compiled_step"):
        with made_from(twin / "inference_cpu.json"):
            (session,) = read_json(twin / "inference_cpu.json")["sessions"]
            commit[twin] = short_commit(session["git_commit"], 7)
    with made_from(folder / "inference_cpu.csv"):
        rows = [r for r in read_csv(folder / "inference_cpu.csv") if r["status"] == "ok"]
        T = max(int(r["context"]) for r in rows)
        at = {r["model"]: r for r in rows if r["batch"] == "64" and int(r["context"]) == T}
        dates = sorted(r["date"] for r in rows)
        tok = {m: measured(r["ms_per_token"]) for m, r in at.items()}
        total = {m: measured(r["total_ms"]) / 1000 for m, r in at.items()}
        kv = at["Transformer"]
        states = {measured(r["state_kib_end"]) for r in rows if r["model"] == "minGRU" and r["batch"] == "64"}
        if len(states) != 1:  # the sentence says the state is the same at every context length
            raise UnreadableFile(folder / "inference_cpu.csv", f"minGRU's state differs between contexts: {states}")
        (state,) = states
        doubled = T * measured(kv["state_kib_end"]) / measured(kv["state_kib_prefill"])
        head = (
            f"Inference at batch 64 after a {T}-token context ({dates[0][:10]} {dates[0][11:16]}-{dates[-1][11:16]}, "
            f"at {commit[folder]}): minGRU carries\n{state:.0f} KiB of state at every context length and "
            f"generates a token in {tok['minGRU']:.2f} ms (torch.nn.GRU {tok['GRU (torch.nn)']:.2f} ms, Mamba\n"
            f"{tok['Mamba']:.2f} ms); the Transformer's KV cache buffers hold "
            f"{measured(kv['state_kib_end']) / 1024:.0f} "
            f"MiB (they double when full: {doubled:.0f} positions after\nthe first new token) and a token takes "
            f"{tok['Transformer']:.1f} ms; prefill + 64 tokens takes {total['minGRU']:.2f} s for minGRU, "
            f"{total['GRU (torch.nn)']:.2f} s for\nGRU, {total['Transformer']:.1f} s for the Transformer and "
            f"{total['Mamba']:.1f} s for Mamba (peak {measured(at['Mamba']['peak_mib']) / 1024:.1f} GiB). A token of "
            "width 64 is a few dozen\nsmall ops, so eager time per token is mostly Python and dispatch overhead; with "
            '`model.step` through\n`torch.compile` (`bench_inference.py --models "minGRU (compiled step)" ...`,\n'
            "[results/efficiency/compiled_step/](../results/efficiency/compiled_step/inference_cpu.csv), one run at\n"
        )
    with made_from(folder / "compiled_step" / "inference_cpu.csv"):
        comp = [r for r in read_csv(folder / "compiled_step" / "inference_cpu.csv") if r["status"] == "ok"]
        ms = {(r["model"], r["batch"], r["context"]): measured(r["ms_per_token"]) for r in comp}
        pairs = [
            (ms[k], ms[(k[0] + " (compiled step)", *k[1:])]) for k in ms if (k[0] + " (compiled step)", *k[1:]) in ms
        ]
        eager, fast = [e for e, _ in pairs], [c for _, c in pairs]
        gain = [e / c for e, c in pairs]
        Tc = max(int(r["context"]) for r in comp)
        end = {r["model"]: measured(r["ms_per_token"]) for r in comp if r["batch"] == "64" and int(r["context"]) == Tc}
        return head + (
            f"{commit[folder / 'compiled_step']} with its eager twin and torch.nn GRU/LSTM, batch 8 and 64, contexts "
            f"{min(int(r['context']) for r in comp)}-{Tc}) a token takes\n{min(fast):.2f}-{max(fast):.2f} ms instead "
            f"of {min(eager):.2f}-{max(eager):.2f} ms ({min(gain):.1f}-{max(gain):.1f}x faster; at batch 64 after {Tc} "
            f"tokens minGRU {end['minGRU (compiled step)']:.2f} ms\nagainst {end['minGRU']:.2f} ms eager and "
            f"{end['GRU (torch.nn)']:.2f} ms for torch.nn.GRU; minLSTM {end['minLSTM (compiled step)']:.2f} against "
            f"{end['minLSTM']:.2f}, torch.nn.LSTM {end['LSTM (torch.nn)']:.2f}),\nafter a one-time compile."
        )


BLOCKS = {
    "claims-status": ("README.md", claims_status),
    "timings": ("docs/development.md", timings),
    "layer-benchmark": ("docs/library.md", layer_benchmark),
    "claims-runs": ("docs/results.md", claims_runs_table),
    "table1": ("docs/results.md", results_file("tables/table1_cpu.md")),
    "table2": ("docs/results.md", results_file("tables/table2_cpu.md")),
    "figure2": ("docs/results.md", results_file("figures/figure2_cpu.md")),
    "figure1": ("docs/results.md", figure1_summary),
    "training": ("docs/results.md", training_summary),
    "inference": ("docs/results.md", inference_summary),
    "table4": ("docs/results.md", results_file("tables/table4_cpu.md")),
    "figure5": ("docs/results.md", results_file("figures/figure5_cpu.md")),
}


def regenerate(root: Path = ROOT, results: Path | None = None) -> list[str]:
    """Rewrite every block from ``results`` (default root/results); the names of those that changed. Every
    block is made and every doc read and checked before the first doc is written: a missing result or a
    doc without its markers leaves every doc as it was."""
    results = results or root / "results"
    texts = {doc: read_text(root / doc) for doc, _ in BLOCKS.values()}
    new, changed = dict(texts), []
    for name, (doc, make) in BLOCKS.items():
        body = make(results)
        _check_body(root / doc, name, body)
        if read_block(root / doc, name, new[doc]) != body.strip("\n"):
            new[doc], changed = replace_block(new[doc], name, body), [*changed, name]
    for doc, text in new.items():
        if text != texts[doc]:
            write_text(root / doc, text)
    return changed


def _check_body(doc: Path, name: str, body: str) -> None:
    """A block's text as made from its results: no HTML comment (a device name holding '<!-- end: NAME -->'
    would end the block early and the next make docs would damage the doc) and UTF-8 (a lone surrogate
    failed the write of one doc after another was written). UnreadableFile naming the doc and block."""
    if "<!--" in body or "-->" in body:
        raise UnreadableFile(doc, f"block {name!r} would hold an HTML comment from its results; nothing written")
    try:
        body.encode()
    except UnicodeEncodeError as e:
        raise UnreadableFile(doc, f"block {name!r} would hold a character that is not UTF-8 ({e.reason})") from None


def add_arguments(ap) -> None:
    """make_docs takes no arguments: every block is rewritten from the committed results."""


def run(args=None, error=None) -> int:
    try:
        changed = regenerate()
    except (OSError, ValueError, KeyError) as e:
        print(f"make_docs: error: {e}", file=sys.stderr)
        return 2
    for name in BLOCKS:
        print(f"{name}: {'rewritten' if name in changed else 'unchanged'}")
    return 0
