"""scripts/gpu_check.py (minrnn.bench.gpu_check): one line and exit 2 without CUDA; its dry run on CPU
(Triton's interpreter) passes on correct kernels and fails a planted kernel error; a check that fails or
runs out of memory is a row, and the rest still run. The dry run at the GPU shape (minutes on two cores)
is marked gpu_shape: `make test-gpu-shapes` (CI), not `make test`."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import triton
import triton.language as tl

from minrnn.bench import gpu_check
from minrnn.ops import triton_chunked, triton_scan
from minrnn.reports import runs as reporting


@triton.jit
def _cand_off_by_half_a_percent(x, USE_G: tl.constexpr):
    """minrnn.ops.triton_scan._cand, planted with an error: h~ 0.5% too large."""
    if USE_G:
        return 1.005 * tl.where(x >= 0, x + 0.5, tl.sigmoid(x))
    return 1.005 * x


ROOT = Path(__file__).resolve().parent.parent
SMALL = (2, 64, 16, 48)  # (B, T, C, H) of the dry runs in make test: seconds, not minutes


def test_without_cuda_it_says_so_in_one_line_and_exits_2():
    out = subprocess.run([sys.executable, "scripts/gpu_check.py"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().count("\n") == 0 and "no CUDA device" in out.stderr and "--device cpu" in out.stderr


def test_a_python_without_torch_is_one_line(tmp_path):
    out = subprocess.run(
        [sys.executable, "-S", "-I", str(ROOT / "scripts/gpu_check.py")], cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0 and "torch is not installed" in out.stderr


def dry_run(tmp_path, shape, interpreted_shape) -> dict:
    """The dry run's record, every check passing; the backend rows at ``shape`` (Triton at ``interpreted_shape``)."""
    assert gpu_check.run(argparse.Namespace(device="cpu", steps=8, out=tmp_path, replace=False)) == 0
    record = json.loads(next(tmp_path.glob("*.json")).read_text())
    checks = record["checks"]
    assert list(checks) == [
        "backends against the float64 reference",
        "large input (64-bit offsets)",
        "training steps (Table 2 models)",
        "Figure 1 layers",
    ]
    backends = checks["backends against the float64 reference"]
    assert len(backends) == 3 + 3 * 3 * 3 and all(r["ok"] for r in backends)  # triton's two kernels, log
    assert {r["kernel"] for r in backends if r["backend"] == "triton"} == {"loop", "chunked"}
    assert {tuple(r["shape"]) for r in backends if r["backend"] == "log"} == {shape}
    assert {tuple(r["shape"]) for r in backends if r["backend"] == "triton"} == {interpreted_shape}
    (large,) = checks["large input (64-bit offsets)"]
    assert large["ok"] is None and "GPU only" in large["skipped"]  # a skip, reported as one
    # the Triton kernel keeps a float32 state: under bf16 autocast it is exact on the rounded inputs
    lstm_bf16 = next(
        r for r in backends if r["what"] == "minLSTM" and r["dtype"] == "bfloat16" and r["backend"] == "triton"
    )
    assert lstm_bf16["output error"] < 1e-5
    assert [r["model"] for r in checks["training steps (Table 2 models)"]] == reporting.MODELS
    assert {r["layer"] for r in checks["Figure 1 layers"]} >= {
        "MinGRU (parallel log-space scan)",
        "MinGRU (cpu kernel)",
    }
    assert (
        "torch" in record["provenance"] and (tmp_path / next(tmp_path.glob("*.json")).with_suffix(".md").name).exists()
    )
    return record


def test_the_dry_run_passes_on_correct_kernels_with_references_in_float64(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check, "SHAPE", SMALL)
    monkeypatch.setattr(gpu_check, "INTERPRETED_SHAPE", SMALL)
    dry_run(tmp_path, SMALL, SMALL)


@pytest.mark.gpu_shape
def test_the_dry_run_passes_at_the_gpu_shape(tmp_path):
    """The dry run as `python scripts/gpu_check.py --device cpu` runs it: the log scan at the GPU shape,
    Triton's interpreter at INTERPRETED_SHAPE."""
    dry_run(tmp_path, gpu_check.SHAPE, gpu_check.INTERPRETED_SHAPE)


def test_the_float64_reference_fails_a_backend_that_holds_its_state_in_bf16():
    """What the old check missed (its reference was the sequential loop under bf16 autocast, whose state
    was then bf16): a bf16 state fails the bf16 tolerance; every backend now keeps a float32 state and passes."""
    torch.manual_seed(0)
    from minrnn import MinLSTM
    from minrnn.ops.reference import scan_sequential

    layer = MinLSTM(16, 24, scan="sequential")
    x = torch.randn(2, 400, 16, dtype=torch.float64)
    ref = gpu_check.rounded_reference(layer, x, torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a, b = (t.bfloat16() for t in layer.coefficients(x.float()))
        h = layer(x.float())
    bf16_state = scan_sequential(a, b)
    assert bf16_state.dtype == torch.bfloat16
    assert gpu_check.relative_error(bf16_state.detach().float(), ref) > gpu_check.TOLERANCES["bfloat16"][0]
    assert h.dtype == torch.float32
    assert gpu_check.relative_error(h.detach(), ref) < gpu_check.TOLERANCES["bfloat16"][0]


def test_a_check_that_runs_out_of_memory_is_a_row_and_the_others_still_run(tmp_path, monkeypatch):
    def oom(*args):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 12.00 GiB")

    monkeypatch.setattr(gpu_check, "training_steps", oom)
    monkeypatch.setattr(gpu_check, "backend_errors", lambda device, quick: [{"what": "scan", "ok": True}])
    assert gpu_check.run(argparse.Namespace(device="cpu", steps=None, out=tmp_path, replace=False)) == 1
    checks = json.loads(next(tmp_path.glob("*.json")).read_text())["checks"]
    (row,) = checks["training steps (Table 2 models)"]
    assert row["ok"] is False and row["error"].startswith("out of memory: CUDA out of memory")
    assert checks["Figure 1 layers"] and not any("error" in r for r in checks["Figure 1 layers"])


def test_make_gpu_check_runs_in_the_users_python_and_installs_nothing():
    """The README's second GPU command, as far as a CPU allows: the activated Python, one line, exit 2."""
    out = subprocess.run(
        ["make", "-s", "gpu-check", f"GPU_PYTHON={sys.executable}"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 2 and out.stdout == "" and "pip" not in out.stderr
    assert out.stderr.splitlines()[0].startswith("gpu_check: no CUDA device")


def test_the_dry_run_fails_a_kernel_off_by_a_little(monkeypatch):
    """A Triton gate kernel whose candidate is 0.5% off (an error a GPU run could have) fails its rows, in the
    loop and in the chunked kernel alike (each pinned in turn)."""
    monkeypatch.setattr(triton_scan, "_cand", _cand_off_by_half_a_percent)
    monkeypatch.setattr(triton_chunked, "_cand", _cand_off_by_half_a_percent)
    monkeypatch.setattr(gpu_check, "VARIANTS", {"minGRU": {}})
    monkeypatch.setattr(gpu_check, "SHAPE", SMALL)
    monkeypatch.setattr(gpu_check, "INTERPRETED_SHAPE", SMALL)
    rows = gpu_check.backend_errors(torch.device("cpu"), True)
    bad = {(r["backend"], r["kernel"], r["dtype"]) for r in rows if r["ok"] is False}
    for kernel in ("loop", "chunked"):
        assert {("triton", kernel, "float32"), ("triton", kernel, "float16")} <= bad, rows
    assert {b for b, _, _ in bad} == {"triton"}, rows


def test_a_device_without_bf16_fails_those_rows_only(monkeypatch):
    """bf16 on a P100 (cuBLAS refuses bf16 matrix products): the bf16 rows say why, the others are kept."""
    linear = torch.nn.functional.linear

    def no_bf16(x, *args, **kwargs):
        if torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16:
            raise RuntimeError("CUDA error: CUBLAS_STATUS_NOT_SUPPORTED when calling cublasGemmEx")
        return linear(x, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "linear", no_bf16)
    monkeypatch.setattr(gpu_check, "VARIANTS", {"minLSTM": {}})
    monkeypatch.setattr(gpu_check, "SHAPE", (2, 16, 8, 24))
    monkeypatch.setattr(gpu_check, "INTERPRETED_SHAPE", (2, 16, 8, 24))
    rows = gpu_check.backend_errors(torch.device("cpu"), True)
    failed = [r for r in rows if r["ok"] is False]
    assert {r["dtype"] for r in failed} == {"bfloat16"} and len(failed) == 3  # triton loop and chunked, log
    assert all("CUBLAS_STATUS_NOT_SUPPORTED" in r["error"] for r in failed)
    assert all(r["ok"] for r in rows if r["dtype"] != "bfloat16") and len(rows) == 3 + 3 * 3


def test_the_large_input_is_sized_to_the_card():
    GiB = 2**30
    assert gpu_check.large_input_size(79 * GiB) == (2**13 + 16, "p and h past 2^31 elements")
    H, covers = gpu_check.large_input_size(15 * GiB)  # a 16 GB V100 or T4
    assert covers == "p past 2^31 elements" and 4 * 2**16 * 2 * H > 2**31
    assert gpu_check.large_input_size(8 * GiB) is None


@pytest.mark.gpu_shape
def test_at_the_gpu_shape_rounding_alone_fails_the_unrounded_gradient_reference():
    """Why the references take the rounded Linear outputs: a correct backend (the log scan, fp16) is off
    by more than the gradient tolerance against the float64 gradient of unrounded inputs, at the GPU
    shape, and well within it on the same rounded inputs."""
    import copy

    from minrnn import MinGRU

    torch.manual_seed(0)
    B, T, C, H = gpu_check.SHAPE
    layer = MinGRU(C, H, scan="log", init_hidden_state=True)
    x = torch.randn(B, T, C, dtype=torch.float64)
    grads = []
    for exact in (copy.deepcopy(layer).double(), gpu_check._rounded_layer(layer, x, torch.float16)):
        xx = x.clone().requires_grad_()
        grads.append(torch.autograd.grad(exact(xx).square().sum(), xx)[0])
    xx = x.float().requires_grad_()
    with torch.autocast("cpu", dtype=torch.float16):
        h = layer(xx)
    (g,) = torch.autograd.grad(h.float().square().sum(), xx)
    tolerance = gpu_check.TOLERANCES["float16"][1]
    assert gpu_check.relative_error(g, grads[0]) > tolerance > 4 * gpu_check.relative_error(g, grads[1])
