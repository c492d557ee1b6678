import csv

import pytest
from cli import call

from minrnn.bench import inference as bench_inference


def test_recurrent_state_is_constant_and_the_kv_cache_grows(tmp_path):
    """Exact bytes: minGRU keeps depth x B x hidden floats; the KV cache 2 x depth x B x tokens x dim."""
    argv = [
        "--contexts",
        "4",
        "32",
        "--batches",
        "2",
        "--new-tokens",
        "3",
        "--repeats",
        "1",
        "--models",
        "minGRU",
        "Transformer",
        "GRU (torch.nn)",
        "--set",
        "task.arch.dim=8",
        "task.arch.heads=2",
        "--out",
        str(tmp_path),
        "--in-process",
    ]
    assert call(bench_inference, argv) == 0
    with open(tmp_path / "inference_cpu.csv", newline="") as f:
        got = {(r["model"], int(r["context"])): r for r in csv.DictReader(f)}
    depth, B, dim, expansion = 3, 2, 8, 1  # selective copying's 3 layers; the bench sets expansion 1
    for ctx in (4, 32):
        assert float(got["minGRU", ctx]["state_kib_end"]) * 1024 == depth * B * dim * expansion * 4
        assert float(got["GRU (torch.nn)", ctx]["state_kib_end"]) * 1024 == depth * B * dim * 4
        kv = float(got["Transformer", ctx]["state_kib_end"]) * 1024
        used = 2 * depth * B * (ctx + 3) * dim * 4  # keys and values of every position so far
        assert used <= kv <= 2 * used  # the buffers double when full: at most twice what is used
        assert float(got["minGRU", ctx]["ms_per_token"]) > 0


def test_a_compiled_step_model_is_measured_beside_its_eager_self(tmp_path):
    argv = ["--contexts", "4", "--batches", "2", "--new-tokens", "3", "--repeats", "1", "--in-process"]
    argv += ["--models", "minGRU", "minGRU (compiled step)", "--set", "task.arch.dim=8", "--out", str(tmp_path)]
    assert call(bench_inference, argv) == 0
    with open(tmp_path / "inference_cpu.csv", newline="") as f:
        got = {r["model"]: r for r in csv.DictReader(f)}
    assert got["minGRU (compiled step)"]["status"] == "ok" and float(got["minGRU (compiled step)"]["ms_per_token"]) > 0
    assert got["minGRU (compiled step)"]["state_kib_end"] == got["minGRU"]["state_kib_end"]
    with pytest.raises(SystemExit) as e:
        call(bench_inference, [*argv, "--models", "minGRU (compiled stepp)"])
    assert e.value.code == 2


def test_on_cuda_every_clock_is_read_after_the_device_has_synchronised(monkeypatch):
    """CUDA kernels run asynchronously: a clock read without a synchronize times the launch, not the work."""
    from types import SimpleNamespace

    import torch

    events = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: events.append("sync"))
    clock = iter(range(100))
    monkeypatch.setattr(bench_inference.time, "perf_counter", lambda: events.append("clock") or next(clock))

    class Model:
        def __call__(self, context, return_state):
            events.append("prefill")
            return torch.zeros(2, 4, 5), [torch.zeros(2, 3)]

        def step(self, tok, state):
            events.append("step")
            return torch.zeros(2, 5), state

    context = SimpleNamespace(device=torch.device("cuda"))
    bench_inference.generate(Model(), context, 2)
    assert events == ["sync", "clock", "prefill", "sync", "clock", "step", "step", "sync", "clock"]
