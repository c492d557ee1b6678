"""The Mamba baseline against mamba-ssm's own Mamba block, on CPU in float64 (make test-mamba-ssm, CI).

mamba-ssm's Python code is installed without its CUDA extension (MAMBA_SKIP_CUDA_BUILD=TRUE); its
reference path runs on CPU once the missing ``selective_scan_cuda`` has a stand-in and
``selective_scan_fn`` is its own ``selective_scan_ref`` (use_fast_path=False; no causal-conv1d, so
nn.Conv1d; no Triton state update, so its PyTorch step), in float64 throughout. The package's __init__ (which imports
transformers and huggingface_hub for its LM head) is not run: only ``mamba_ssm.modules``/``ops``.
"""

import copy
import importlib.util
import sys
import types
from pathlib import Path

import pytest
import torch

sys.modules.setdefault("selective_scan_cuda", types.ModuleType("selective_scan_cuda"))
_spec = importlib.util.find_spec("mamba_ssm")
if _spec is None:
    pytest.exit("mamba-ssm is not installed: run `make test-mamba-ssm`", returncode=2)
_package = types.ModuleType("mamba_ssm")
_package.__path__ = [str(Path(_spec.origin).parent)]
sys.modules["mamba_ssm"] = _package

from mamba_ssm.modules import mamba_simple  # noqa: E402
from mamba_ssm.ops.selective_scan_interface import selective_scan_ref  # noqa: E402

from minrnn.baselines.mamba import Mamba, MambaMixer  # noqa: E402

mamba_simple.selective_scan_fn = selective_scan_ref
mamba_simple.selective_state_update = None  # its PyTorch step (the Triton one needs CUDA tensors)
_package.Mamba = mamba_simple.Mamba
TOL = dict(rtol=0, atol=1e-12)


@pytest.fixture(autouse=True)
def float64_throughout(monkeypatch):
    """Both implementations cast A, D, the dt bias (and mamba-ssm's reference scan its inputs) to
    float32 with ``.float()``; in these tests a float64 tensor stays float64, so the comparison is
    of the algorithms at float64 precision, not of float32 rounding."""
    to_float = torch.Tensor.float
    monkeypatch.setattr(torch.Tensor, "float", lambda t: t if t.dtype == torch.float64 else to_float(t))


def copy_weights(ours: MambaMixer, theirs) -> None:
    names = {"in_proj": "in_proj", "conv": "conv1d", "x_proj": "x_proj", "dt_proj": "dt_proj", "out_proj": "out_proj"}
    with torch.no_grad():
        for mine, other in names.items():
            getattr(theirs, other).load_state_dict(getattr(ours, mine).state_dict())
        theirs.A_log.copy_(ours.A_log)
        theirs.D.copy_(ours.D)


@pytest.mark.parametrize("length", [3, 40])  # shorter than the conv window, and longer
def test_our_mixer_equals_mamba_ssms_block_in_outputs_and_gradients(length):
    torch.manual_seed(0)
    ours = MambaMixer(16, d_state=8).double()
    theirs = mamba_simple.Mamba(16, d_state=8, use_fast_path=False, layer_idx=0).double()
    copy_weights(ours, theirs)
    x = torch.randn(2, length, 16, dtype=torch.float64, requires_grad=True)
    y_ours, y_theirs = ours(x), theirs(x)
    torch.testing.assert_close(y_ours, y_theirs, **TOL)
    w = torch.randn_like(y_ours)
    g_ours = torch.autograd.grad((y_ours * w).sum(), [x, ours.A_log, ours.in_proj.weight, ours.dt_proj.bias])
    g_theirs = torch.autograd.grad((y_theirs * w).sum(), [x, theirs.A_log, theirs.in_proj.weight, theirs.dt_proj.bias])
    for a, b in zip(g_ours, g_theirs, strict=True):
        torch.testing.assert_close(a, b, **TOL)


def test_the_model_on_mamba_ssm_prefills_then_steps_and_equals_the_pure_pytorch_model():
    torch.manual_seed(0)
    ssm = Mamba(dim=16, depth=2, dim_out=5, vocab_size=5, d_state=8, device="cuda").double().eval()  # built on CPU
    assert ssm.implementation == "mamba_ssm"
    plain = Mamba(dim=16, depth=2, dim_out=5, vocab_size=5, d_state=8, implementation="minrnn").double().eval()
    plain.embed, plain.norms, plain.norm, plain.head = (
        copy.deepcopy(m) for m in (ssm.embed, ssm.norms, ssm.norm, ssm.head)
    )
    for mine, wrapped in zip(plain.mixers, ssm.mixers, strict=True):
        copy_weights(mine, wrapped.block)
    x = torch.randint(0, 5, (2, 9))
    full = ssm(x)
    torch.testing.assert_close(full, plain(x), **TOL)
    logits, state = ssm(x[:, :5], return_state=True)
    torch.testing.assert_close(logits, full[:, :5], **TOL)
    for t in range(5, 9):
        out, state = ssm.step(x[:, t], state)
        torch.testing.assert_close(out, full[:, t], rtol=0, atol=1e-10)


def test_mamba_ssm_marks_a_log_and_d_as_we_do():
    theirs = mamba_simple.Mamba(16, d_state=8, use_fast_path=False)
    ours = MambaMixer(16, d_state=8)
    assert theirs.A_log._no_weight_decay and theirs.D._no_weight_decay
    assert ours.A_log._no_weight_decay and ours.D._no_weight_decay
