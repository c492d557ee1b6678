"""The compiled CPU kernels under AddressSanitizer: built with -fsanitize=address, every kernel run forward and
backward over every thread split, and through torch.compile, with no report. Skipped only where gcc has no
libasan (say so: the default image has it)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
LIBASAN = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()


@pytest.mark.skipif(not os.path.isabs(LIBASAN), reason="gcc has no libasan here: the kernels were not checked")
def test_the_kernels_run_clean_under_address_sanitizer(tmp_path):
    env = {
        **os.environ,
        "MINRNN_CFLAGS": "-fsanitize=address -fno-omit-frame-pointer",
        "MINRNN_CACHE": str(tmp_path),
        "LD_PRELOAD": LIBASAN,
        "ASAN_OPTIONS": "detect_leaks=0:exitcode=99",
    }
    out = subprocess.run(
        [sys.executable, str(HERE / "asan_workload.py")], env=env, capture_output=True, text=True, timeout=600
    )
    assert "AddressSanitizer" not in out.stderr and out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("asan workload done")
    assert any(tmp_path.glob("scan-*.so")) and any(
        tmp_path.glob("step-*.so")
    )  # sanitized builds, not cached plain ones
