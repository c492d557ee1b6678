"""Numbers in the docs that come from results/: each lives in a block between two markers,

    <!-- generated: NAME (python scripts/make_docs.py) -->
    ...
    <!-- end: NAME -->

rewritten from the committed results by ``scripts/make_docs.py`` (``make docs``; the benchmarks' make
targets run it) and checked equal to that by tests/test_doc_blocks.py, so prose never drifts from files.
"""

from __future__ import annotations

import json
from pathlib import Path

from minrnn.harness.records import write_text_atomic

ROOT = Path(__file__).resolve().parents[2]


def markers(name: str) -> tuple[str, str]:
    return f"<!-- generated: {name} (python scripts/make_docs.py) -->", f"<!-- end: {name} -->"


def read_block(path: Path, name: str) -> str:
    start, end = markers(name)
    text = path.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{path} has no block {name!r} (markers {start} ... {end})")
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def replace_block(path: Path, name: str, body: str) -> bool:
    """Rewrite the block; True if it changed."""
    start, end = markers(name)
    old = read_block(path, name)
    if old == body.strip("\n"):
        return False
    before, rest = path.read_text().split(start, 1)
    write_text_atomic(path, before + start + "\n" + body.strip("\n") + "\n" + end + rest.split(end, 1)[1])
    return True


def layer_benchmark(results: Path) -> str:
    """docs/library.md's table of the layer benchmark at its longest T (results/bench/layers.json)."""
    rec = json.loads((results / "bench" / "layers.json").read_text())
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
        f"{p['date'][:10]} at {p['git_commit'][:7]}:"
    )
    return head + "\n\n" + "\n".join(rows)


BLOCKS = {"layer-benchmark": ("docs/library.md", layer_benchmark)}


def regenerate(root: Path = ROOT, results: Path | None = None) -> list[str]:
    """Rewrite every block from ``results`` (default root/results); the names of those that changed."""
    results = results or root / "results"
    return [name for name, (doc, make) in BLOCKS.items() if replace_block(root / doc, name, make(results))]
