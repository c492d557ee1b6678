"""The decoding benchmark (minrnn.bench.decoding): Figure 2's models as configured, tokens per second and
their ratios computed from the per-round seconds, the record and table written, bad arguments refused."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minrnn import SequenceModel
from minrnn.baselines.transformer import Transformer
from minrnn.bench import decoding

ROOT = Path(__file__).resolve().parent.parent


def test_the_models_are_figure_2s_at_each_scale():
    m = decoding.shakespeare_model("mingru", "cpu")
    assert isinstance(m, SequenceModel) and not m.training and len(m.blocks) == 3
    assert m.blocks[0].conv is not None and m.blocks[0].mlp is not None and m.embed.weight.shape == (65, 128)
    paper = decoding.shakespeare_model("transformer", "paper")
    assert isinstance(paper, Transformer) and paper.embed.weight.shape == (65, 384)


def test_tokens_per_second_and_ratios_come_from_the_seconds_of_each_round(tmp_path, monkeypatch):
    seconds = {True: iter([0.5, 0.25, 0.2] * 3), False: iter([2.0, 1.0, 1.0] * 3)}
    monkeypatch.setattr(decoding, "decode_seconds", lambda model, batch, new, fast: next(seconds[fast]))
    names = ["minGRU (fast step)", "minGRU (eager step)"]
    args = argparse.Namespace(
        scales=["cpu"],
        batches=[4],
        new_tokens=10,
        repeats=2,
        budget=600.0,
        models=names,
        threads=1,
        out=tmp_path,
        replace=False,
    )
    assert decoding.run(args, error=pytest.fail) == 0
    cell = json.loads((tmp_path / "decoding.json").read_text())["cells"][0]
    # warm-up 0.5 s and 2 s, then rounds of 0.25 / 1 s and 0.2 / 1 s: 4 x 10 tokens per run
    assert cell["rows"]["minGRU (fast step)"]["tokens_per_s"] == pytest.approx((160 + 200) / 2)
    assert cell["rows"]["minGRU (eager step)"]["tokens_per_s"] == pytest.approx(40)
    assert cell["ratios"]["minGRU fast / eager"]["median"] == pytest.approx(4.5)
    assert cell["ratios"].keys() == {"minGRU fast / eager"}  # only the pairs measured
    table = (tmp_path / "decoding.md").read_text()
    assert "| minGRU fast / eager | 4.50x (4.25-4.75) |" in table and "## scale=cpu, batch 4" in table


@pytest.mark.parametrize("fast_step", [True, False])
def test_decode_tokens_per_second_counts_every_row(fast_step, monkeypatch):
    monkeypatch.setattr(decoding, "decode_seconds", lambda model, batch, new, fast: 0.5 if fast == fast_step else 9)
    s = decoding.decode_tokens_per_second(None, batch=3, new_tokens=8, fast_step=fast_step, repeats=4)
    assert (s.median, s.n) == (48, 4)


def test_fast_and_eager_decoding_generate_the_same_tokens_as_generate():
    torch.manual_seed(0)
    m = SequenceModel(dim=16, depth=2, dim_out=65, vocab_size=65, block=dict(conv=True, mlp=True)).eval()
    prompt = torch.randint(0, 65, (2, 16), generator=torch.Generator().manual_seed(0))
    assert decoding.decode_seconds(m, 2, 5, True) > 0 and decoding.decode_seconds(m, 2, 5, False) > 0
    assert torch.equal(m.generate(prompt, 6, temperature=0), m.generate(prompt, 6, temperature=0, fast_step=False))


def test_bench_decoding_runs_end_to_end_and_refuses_bad_arguments(tmp_path):
    argv = [sys.executable, "scripts/bench_decoding.py", "--scales", "cpu", "--batches", "1", "--new-tokens", "2"]
    argv += ["--repeats", "2", "--models", "minGRU (fast step)", "Transformer (KV cache)", "--out", str(tmp_path)]
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rec = json.loads((tmp_path / "decoding.json").read_text())
    assert rec["provenance"]["git_commit"] and rec["load"].startswith("Machine ")
    rows = rec["cells"][0]["rows"]
    assert rows.keys() == {"minGRU (fast step)", "Transformer (KV cache)"} and all(
        r["rounds"] == 2 for r in rows.values()
    )
    assert "minGRU fast / Transformer" in rec["cells"][0]["ratios"]
    bad = subprocess.run(
        [*argv[:2], "--batches", "0", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "must be positive" in bad.stderr and "Traceback" not in bad.stderr
