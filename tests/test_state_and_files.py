"""State in and out, chunked equals whole, and save/load without the harness (issue 29, parts 2-3):
a sequence run in chunks of any sizes, carrying the state, equals one parallel pass and step mode, for
the layers and for SequenceModel with conv, MLP and a learned h0, on every backend, in float64."""

import json
import subprocess
import sys

import pytest
import torch

from minrnn import MinGRU, MinLSTM, SequenceModel
from minrnn.safetensors_io import load_file, save_file

BACKENDS = ["sequential", "log", "cpu", "triton"]
CHUNKS = [1, 7, 64]  # then the rest


def chunks(T):
    out, t = [], 0
    for c in CHUNKS:
        if t < T:
            out.append((t, min(T, t + c)))
            t = min(T, t + c)
    return out + ([(t, T)] if t < T else [])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
def test_a_layer_in_chunks_carrying_its_state_equals_one_pass_and_step_mode(cls, backend):
    torch.manual_seed(0)
    layer = cls(5, 6, scan=backend, init_hidden_state=True).double()
    x = torch.randn(2, 90, 5, dtype=torch.float64)
    whole, last = layer(x, return_state=True)
    torch.testing.assert_close(last, whole[:, -1], rtol=0, atol=0)
    state, parts = None, []
    for a, b in chunks(90):
        h, state = layer(x[:, a:b], state, return_state=True)
        parts.append(h)
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=0, atol=1e-12)
    h_t = None
    for t in range(90):
        h_t = layer.step(x[:, t], h_t)
    torch.testing.assert_close(h_t, whole[:, -1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_model_with_conv_mlp_and_learned_h0_in_chunks_equals_one_pass_and_step_mode(backend):
    torch.manual_seed(0)
    block = dict(rnn="minlstm", expansion=2, conv=True, mlp=True, rnn_kwargs=dict(scan=backend, init_hidden_state=True))
    model = SequenceModel(dim=8, depth=2, vocab_size=11, dim_out=11, block=block).double().eval()
    x = torch.randint(0, 11, (2, 80))
    whole = model(x)
    state, parts = None, []
    for a, b in chunks(80):
        logits, state = model(x[:, a:b], state, return_state=True)
        parts.append(logits)
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=0, atol=1e-12)
    state, steps = None, []
    for t in range(80):
        logits, state = model.step(x[:, t], state)
        steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), whole, rtol=0, atol=1e-10)


def test_saved_models_load_without_the_harness_and_equal_the_original(tmp_path):
    torch.manual_seed(0)
    block = dict(rnn="mingru", expansion=2, conv=True, mlp=True, dropout=0.1)
    model = SequenceModel(dim=8, depth=2, vocab_size=11, dim_out=11, block=block).eval()
    model.save_pretrained(tmp_path / "m", extra={"vocabulary": "abcdefghijk"})
    x = torch.randint(0, 11, (2, 30))
    expected = model(x)
    code = (
        "import sys, torch; from minrnn import SequenceModel; "
        f"m = SequenceModel.from_pretrained({str(tmp_path / 'm')!r}); "
        f"torch.save(m(torch.tensor({x.tolist()})), {str(tmp_path / 'out.pt')!r}); "
        "print([k for k in ('hydra', 'omegaconf', 'wandb', 'pandas', 'minrnn.harness') if k in sys.modules], m.extra)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] {'vocabulary': 'abcdefghijk'}"
    torch.testing.assert_close(torch.load(tmp_path / "out.pt", weights_only=True), expected, rtol=0, atol=0)
    assert json.loads((tmp_path / "m/config.json").read_text())["config"]["block"]["rnn"] == "mingru"


def test_a_saved_model_names_only_minrnns_own_layers_and_a_broken_file_is_one_message(tmp_path):
    SequenceModel(dim=4, depth=1, vocab_size=3, dim_out=3).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["config"]["block"]["rnn"] = "subprocess.Popen"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="'subprocess.Popen', which is not one of minrnn's own"):
        SequenceModel.from_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\xff" * 16)
    with pytest.raises(ValueError, match="is not a safetensors file"):
        load_file(tmp_path / "model.safetensors")


def test_the_safetensors_files_round_trip_every_dtype(tmp_path):
    tensors = {
        "f64": torch.randn(3, 2, dtype=torch.float64),
        "bf16": torch.randn(5, dtype=torch.bfloat16),
        "i64": torch.arange(7),
        "empty": torch.zeros(0, 3),
    }
    save_file(tensors, tmp_path / "t.safetensors", {"k": "v"})
    got, meta = load_file(tmp_path / "t.safetensors")
    assert meta == {"k": "v"} and all(torch.equal(got[k], v) and got[k].dtype == v.dtype for k, v in tensors.items())
    raw = (tmp_path / "t.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert json.loads(raw[8 : 8 + n])["f64"] == {
        "dtype": "F64",
        "shape": [3, 2],
        "data_offsets": [10, 58],
    }  # after bf16 (10 bytes), names sorted
