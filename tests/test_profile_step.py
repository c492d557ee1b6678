import json

import pytest
from cli import call

from minrnn.bench import profile_step


@pytest.mark.parametrize(
    "name, part",
    [
        ("aten::mm", "matmuls"),
        ("aten::addmm", "matmuls"),
        ("minrnn::gate_scan_backward", "recurrence"),
        ("GeneratedBackwardFor_minrnn_gate_scan_default", "recurrence"),
        ("aten::mkldnn_rnn_layer_backward", "recurrence"),
        ("minrnn::rms_norm", "norms"),
        ("GeneratedBackwardFor_minrnn_rms_norm_default", "norms"),
        ("aten::embedding_dense_backward", "embedding"),
        ("aten::_log_softmax_backward_data", "loss"),
        ("aten::copy_", "copies and fills"),
        ("autograd::engine::evaluate_function: MmBackward0", "autograd bookkeeping"),
        ("MkldnnRnnLayerBackward0", "autograd bookkeeping"),  # the graph node; its work is the aten op
        ("aten::sigmoid_backward", profile_step.OTHER),
        ("aten::tanh_backward", profile_step.OTHER),
        ("aten::add", profile_step.OTHER),
    ],
)
def test_each_operator_lands_in_its_part(name, part):
    assert profile_step.part_of(name) == part


def test_parts_add_up_to_the_profiled_step_and_count_matmul_flops(tmp_path):
    argv = ["--lengths", "16", "--batch", "2", "--rounds", "1", "--models", "minLSTM", "LSTM (torch.nn)"]
    argv += ["--set", "task.arch.dim=8", "task.arch.depth=1", "--out", str(tmp_path)]
    assert call(profile_step, argv) == 0
    rec = json.loads((tmp_path / "profile_cpu.json").read_text())
    rows = {r["model"]: r for r in rec["rows"]}
    mine = rows["minLSTM"]
    assert sum(mine["parts_ms"].values()) == pytest.approx(mine["profiled_ms"])
    assert mine["parts_ms"]["recurrence"] > 0 and rows["LSTM (torch.nn)"]["parts_ms"]["recurrence"] > 0
    # minLSTM's matrix products: in-projection 8 -> 3 x 8 and down-projection 8 -> 8 over 2 x 16 tokens,
    # forward and the two backward products each, plus the head 8 -> 16 (forward, grad input, grad weight).
    tokens = 2 * 16
    expected = 3 * 2 * tokens * (8 * 24 + 8 * 8 + 8 * 16)
    assert mine["matmul_gflop"] * 1e9 == pytest.approx(expected)
    assert mine["implementation"] == "MinLSTM scan=cpu" and rec["provenance"]["git_commit"]
    md = (tmp_path / "profile_cpu.md").read_text()
    assert "| 16 | minLSTM vs LSTM (torch.nn) |" in md


def test_fused_lstm_flops_equal_what_the_profiler_counts_for_the_plain_loop(tmp_path):
    """torch.nn.LSTM's oneDNN products are invisible to the profiler; the count from its shapes must
    equal the profiler's count for the same network with the plain-PyTorch loop LSTM, plus the one
    product the loop skips: the gradient into its zero initial state (2 x B x 4H x H per layer)."""
    argv = ["--lengths", "8", "--batch", "2", "--rounds", "1", "--models", "LSTM (torch.nn)", "LSTM (plain loop)"]
    argv += ["--set", "task.arch.dim=8", "task.arch.depth=2", "--out", str(tmp_path)]
    assert call(profile_step, argv) == 0
    rows = {r["model"]: r for r in json.loads((tmp_path / "profile_cpu.json").read_text())["rows"]}
    fused, loop = rows["LSTM (torch.nn)"], rows["LSTM (plain loop)"]
    assert fused["parts_ms"]["recurrence"] > 0 and loop["parts_ms"]["recurrence"] == 0
    assert fused["matmul_gflop"] < loop["matmul_gflop"]
    skipped = 2 * (2 * 2 * 32 * 8)
    assert fused["network_gflop"] * 1e9 == pytest.approx(loop["network_gflop"] * 1e9 + skipped)


def test_rejects_an_unknown_model(capsys):
    with pytest.raises(SystemExit) as e:
        call(profile_step, ["--models", "minGRUU"])
    assert e.value.code == 2 and "unknown models" in capsys.readouterr().err
