"""scripts/install_torch.sh: the CPU index first, the default index when it does not answer, and one line
saying which build came from where (issue 36: the README said "the CPU wheel" whatever pip found)."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "install_torch.sh"

# A stand-in python: `-m pip install` fails when asked of an index in $FAIL_INDEX, else writes pip's
# --report naming $WHEEL; anything else runs the real python with a stand-in torch of $CUDA.
FAKE = """#!/usr/bin/env bash
if [ "$1 $2" = "-m pip" ]; then
  echo "$@" >> "$CALLS"
  case " $* " in *" --index-url $FAIL_INDEX "*) exit 1 ;; esac
  while [ $# -gt 0 ]; do [ "$1" = "--report" ] && report=$2; shift; done
  printf '{"install": [{"metadata": {"name": "torch"}, "download_info": {"url": "%s"}}]}' "$WHEEL" > "$report"
  exit 0
fi
PYTHONPATH="$STUB" exec "{python}" "$@"
"""


@pytest.fixture
def fake(tmp_path):
    py = tmp_path / "python"
    py.write_text(FAKE.replace("{python}", sys.executable))
    py.chmod(0o755)
    (tmp_path / "stub" / "torch").mkdir(parents=True)
    return tmp_path


def install(fake: Path, fail_index: str, cuda: str) -> subprocess.CompletedProcess:
    (fake / "stub/torch/__init__.py").write_text(f"__version__ = '2.13.0'\nclass version:\n    cuda = {cuda!r}\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "CALLS": str(fake / "calls"),
        "FAIL_INDEX": fail_index,
        "WHEEL": "https://example.invalid/torch-2.13.0.whl",
        "STUB": str(fake / "stub"),
    }
    return subprocess.run(
        ["bash", str(SCRIPT), str(fake / "python"), "torch==2.13.0", "https://cpu.index"],
        env=env,
        capture_output=True,
        text=True,
    )


def test_the_cpu_index_is_asked_first_and_named(fake):
    out = install(fake, fail_index="none", cuda=None)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["torch 2.13.0 (CPU-only), from https://example.invalid/torch-2.13.0.whl"]
    (call,) = (fake / "calls").read_text().splitlines()
    assert "--index-url https://cpu.index" in call


def test_without_the_cpu_index_it_falls_back_and_says_a_cuda_build_came(fake):
    out = install(fake, fail_index="https://cpu.index", cuda="12.8")
    assert out.returncode == 0, out.stderr
    first, second = (fake / "calls").read_text().splitlines()
    assert "--index-url" in first and "--index-url" not in second
    assert out.stdout.splitlines()[0] == "torch 2.13.0 (CUDA 12.8), from https://example.invalid/torch-2.13.0.whl"
    assert "CPU wheel index" in out.stdout.splitlines()[1]
