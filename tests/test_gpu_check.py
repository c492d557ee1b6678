"""scripts/gpu_check.py: one line and exit 2 without CUDA; its report's ratios from given timings."""

import subprocess
import sys
from pathlib import Path

from scripts import gpu_check

ROOT = Path(__file__).resolve().parent.parent


def test_without_cuda_it_says_so_in_one_line_and_exits_2():
    out = subprocess.run([sys.executable, "scripts/gpu_check.py"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().count("\n") == 0 and "no CUDA device" in out.stderr


def test_the_report_puts_our_speedups_beside_the_papers():
    bench = {}
    for T, scale in ((512, 1.0), (4096, 8.0)):
        bench.update({("MinGRU", T): 1.0 * scale, ("MinLSTM", T): 2.0 * scale})
        bench.update({("GRU loop (plain PyTorch)", T): 300.0 * scale, ("nn.GRU (fused)", T): 4.0 * scale})
        bench.update({("LSTM loop (plain PyTorch)", T): 500.0 * scale, ("nn.LSTM (fused)", T): 5.0 * scale})
    errors = [{"what": "minGRU", "backend": "triton", "dtype": "float32", "error": 1e-7}]
    training = [{"model": "mingru", "first_loss": 2.8, "last_loss": 2.1, "falls": True, "peak_gib": 1.5, "seconds": 9}]
    text = gpu_check.report("Test GPU", errors, training, bench)
    assert "| 512 | 175x | 300x | 4.0x | 235x | 250x | 2.5x |" in text
    assert "| mingru | 2.800 | 2.100 | True | 1.50 | 9 |" in text and "| minGRU | triton | float32 | 1.0e-07 |" in text
