"""minrnn/triton_targets.py: the Triton kernels compile for real GPUs (no GPU here), without register
spills, with 64-bit row offsets. One variant per kernel here; every variant x every GPU generation in
tests_gpu_compile (make test-gpu-compile, run by CI)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from minrnn import triton_targets as TT
from minrnn.ops import triton_scan

ROOT = Path(__file__).resolve().parent.parent


def test_each_kernel_compiles_for_the_gpu_without_spills_and_with_64_bit_row_offsets(tmp_path):
    """In a fresh process: the tests run Triton's interpreter, which cannot compile for a GPU."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    cmd = [sys.executable, str(ROOT / "scripts/compile_gpu_kernels.py"), "--quick", "--capabilities", "75", "80", "90"]
    out = subprocess.run([*cmd, "--out", str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    rows = json.loads(next(tmp_path.glob("*.json")).read_text())["rows"]
    assert len(rows) == 12 * 3 and all(r["ok"] for r in rows), rows  # triton_scan's 4, triton_chunked's 7, the step
    assert all(0 < r["registers"] <= 128 and r["spill_stores"] == r["spill_loads"] == 0 for r in rows)
    assert all(r["int32_row_offsets"] == 0 for r in rows)


def test_the_int32_check_finds_a_32_bit_row_offset():
    ttir = """
    %0 = tt.get_program_id x : i32 loc(#loc1)
    %1 = tt.get_program_id y : i32 loc(#loc2)
    %c = arith.muli %1, %c128_i32 : i32 loc(#loc3)
    %h = arith.muli %0, %H : i32 loc(#loc4)
    %r = arith.extsi %0 : i32 to i64 loc(#loc5)
    %ok = arith.muli %r, %T64 : i64 loc(#loc6)
    """
    assert TT.row_arithmetic_in_int32(ttir) == ["%h = arith.muli %0, %H : i32 loc(#loc4)"]


def test_variants_cover_every_kernel_mode_and_block_the_launcher_uses():
    vs = TT.variants()
    assert {v.kernel for v in vs} == {"_scan_fwd", "_scan_bwd", "_gate_fwd", "_gate_bwd"} | {
        "_chunk_local",
        "_chunk_states",
        "_chunk_fwd",
        "_chunk_bwd",  # minrnn.ops.triton_chunked
    } | set(TT.GATE_CHUNKED_KERNELS) | {"_gate_step"}
    assert {(v.kernel, v.reverse) for v in vs if v.kernel == "_gate_chunk_local"} == {
        ("_gate_chunk_local", False),
        ("_gate_chunk_local", True),
    }
    assert {v.resets for v in vs if v.kernel.startswith("_gate")} == {False, True}
    assert {v.mode for v in vs if v.mode} == set(triton_scan.MODES)
    assert {triton_scan._block(c) for c in (1, 17, 40, 100, 384, 4096)} == set(TT.BLOCKS)
    assert {(v.dtype, v.h0_dtype) for v in vs} >= {("bfloat16", "float32"), ("float16", "float32"), ("float64", None)}
