import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from harness import compose_cfg, tiny

from minrnn.harness.run_lock import RunInUse, RunLock

ROOT = Path(__file__).resolve().parent.parent
HOLD = "import sys, time; from minrnn.harness.run_lock import RunLock; l = RunLock(sys.argv[1]).__enter__(); "


def test_a_second_run_of_the_same_config_exits_at_once_naming_the_first(tmp_path):
    run_dir = tmp_path / "runs" / compose_cfg(tiny(tmp_path)).run_name
    with RunLock(run_dir):
        out = subprocess.run(
            [sys.executable, "-m", "minrnn.harness.train", *tiny(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"is in use by pid {os.getpid()} on" in out.stderr
    assert not (run_dir / "metrics.jsonl").exists()


def test_the_lock_is_released_when_its_holder_is_killed(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD + "print('held', flush=True); time.sleep(60)", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunInUse, match=f"pid {holder.pid}"):
            RunLock(tmp_path).__enter__()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with RunLock(tmp_path) as lock:  # the kernel dropped the dead holder's lock
        assert f"pid {os.getpid()}" in lock.path.read_text()
