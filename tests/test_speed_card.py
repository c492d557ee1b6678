"""The speed card (minrnn.bench.speed_card): the GPU card's dry run on CPU (what CI runs) reaches every
row, and the budget marks what it cannot fit instead of dropping it."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minrnn.bench import speed_card, timing
from minrnn.bench.speed_rows import rows

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("card")
    cmd = [sys.executable, "scripts/speed_card.py", "--scale", "gpu", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return proc, json.loads((out / "speed_card.json").read_text()), out


@pytest.mark.skipif(torch.cuda.is_available(), reason="the dry run is what a machine without CUDA runs")
def test_gpu_card_without_gpu_is_a_dry_run_over_every_row(dry_run):
    proc, record, out = dry_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "dry run" in proc.stdout
    assert record["dry_run"] and record["scale"] == "dry" and record["provenance"]["device"] == "cpu"
    measured = {n for c in record["cells"] for n, r in c.get("rows", {}).items() if "total" in r}
    for row in rows():  # each row ran (forward and backward timed) or says why it cannot run here
        assert row.name in measured or record["unavailable"].get(row.name), row.name
    for c in record["cells"]:
        for r in c.get("rows", {}).values():
            if "total" in r:
                assert all(t > f > 0 for t, f in zip(r["total"], r["forward"], strict=True))
    assert "MinGRU [triton]" in measured and "MinLSTM [cpu]" in measured  # the interpreter and the C kernel
    capped = [c for c in record["cells"] if "skipped" in c]
    assert capped and all(c["B"] * c["T"] > record["config"]["max_tokens"] for c in capped)
    ratios = next(c["ratios"] for c in record["cells"] if "ratios" in c)
    assert ratios["torch.nn.GRU / MinGRU"]["median"] > 0
    (net,) = record["network"]
    assert set(net["ratios"]) == {"GRU (torch.nn) / minGRU", "LSTM (torch.nn) / minLSTM"}
    assert {r["model"] for r in record["decoding"]} == set(speed_card.DECODE_MODELS)
    assert all(r["tokens_per_s"] > 0 for r in record["decoding"])
    steps = {r["model"]: r["step"] for r in record["decoding"]}  # on CPU the fast step's C kernels
    assert steps["minGRU"] == steps["minLSTM"] == "minrnn.decode (csrc/step.c's C kernels)"
    assert steps["minGRU (eager step)"] == "eager (fast_step=False)"
    assert "MinGRU and MinLSTM" in steps["GRU (torch.nn)"]
    page = (out / "speed_card.md").read_text()
    assert "dry run" in page and "## Decoding" in page and (out / "speed_card.png").stat().st_size > 0


def test_a_row_predicted_over_the_call_cap_is_marked_not_run():
    cfg = {"dim": 4, "rounds": 2, "call_cap": 1.0}
    calls, w = [], torch.nn.Parameter(torch.ones(4))

    def fn(x):
        calls.append(x.shape)
        return x * w

    built = {"fast": (fn, [w]), "slow": (fn, [w])}
    rates = {"slow": 1.0}  # one second per token: 8 tokens predict 8 s, over the 1 s cap
    out = speed_card.measure_cell(built, 2, 4, cfg, torch.device("cpu"), timing.Budget(None), math.inf, rates)
    assert out["slow"] == {"skipped": "over budget (about 8.0 s a call; cap 1 s)"}
    assert len(out["fast"]["total"]) == 2 and len(out["fast"]["forward"]) == 2
    assert len(calls) == 1 + 1 + 2  # the first call, interleaved's warm-up, two rounds: never the slow row
    assert rates["fast"] < 1.0


def test_a_cell_that_cannot_fit_the_budget_left_is_marked_over_budget(monkeypatch):
    now = [0.0]
    budget = timing.Budget(10.0, clock=lambda: now[0])
    cfg = speed_card.SCALES["dry"] | {"lengths": [4, 8], "batches": [1], "max_tokens": None, "call_cap": 100.0}

    def cell(built, B, T, cfg, device, budget, share, rates):
        rates.update(dict.fromkeys(built, 1.0))  # a second per token: T = 8 needs 3 x 8 s per row
        now[0] += 1.0
        return {n: {"forward": [0.1], "total": [0.2]} for n in built}

    monkeypatch.setattr(speed_card, "measure_cell", cell)
    cells, _ = speed_card.layer_grid(cfg, torch.device("cpu"), budget, log=lambda _: None)
    assert "rows" in cells[0] and cells[0]["T"] == 4
    assert cells[1]["T"] == 8 and cells[1]["skipped"].startswith("over budget (needs about")


def test_the_card_decodes_through_the_decoding_benchmarks_loop(monkeypatch):
    """One decoding loop (minrnn.bench.decoding.decode_seconds): the card's rows are its seconds, and a
    model the fast step does not take steps eagerly, as generate does."""
    from minrnn.bench import decoding

    calls = []

    def seconds(model, batch, new_tokens, fast_step):
        calls.append((type(model.blocks[0].rnn).__name__, batch, new_tokens, fast_step))
        return 0.5 if fast_step else 2.0

    monkeypatch.setattr(decoding, "decode_seconds", seconds)
    cfg = speed_card.SCALES["dry"] | {"batches": [3], "rounds": 2, "decode_tokens": 4}
    rows = {r["model"]: r for r in speed_card.decoding(cfg, torch.device("cpu"), log=lambda _: None)}
    assert rows.keys() == set(speed_card.DECODE_MODELS) and all(r["rounds"] == 2 for r in rows.values())
    assert rows["minGRU"]["tokens_per_s"] == 3 * 4 / 0.5 and rows["minGRU (eager step)"]["tokens_per_s"] == 3 * 4 / 2
    assert rows["GRU (torch.nn)"]["tokens_per_s"] == 6 and rows["GRU (torch.nn)"]["step"].startswith("eager (")
    assert len(calls) == len(rows) * (1 + 2) and {c[1:3] for c in calls} == {(3, 4)}
