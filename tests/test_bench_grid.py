import subprocess
import sys

import pytest
import torch

from minrnn.bench.grid import Grid, SettingsMismatch, run_grid, state_bytes

SETTINGS = {"scale": "cpu", "repeats": 1}


def test_rows_survive_a_restart_and_other_settings_are_refused(tmp_path):
    grid = Grid(tmp_path / "t.csv", ("model", "T"), SETTINGS, "cpu")
    grid.add({"model": "a", "T": 8, "status": "ok", "ms_median": 1.5})
    grid.add({"model": "a", "T": 16, "status": "error", "error": "boom"})
    again = Grid(tmp_path / "t.csv", ("model", "T"), SETTINGS, "cpu")
    assert again.done({"model": "a", "T": 8}) and not again.done({"model": "a", "T": 16})  # errors are retried
    assert again.rows[0]["ms_median"] == "1.5" and len(again.sessions) == 2
    with pytest.raises(SettingsMismatch, match="other settings"):
        Grid(tmp_path / "t.csv", ("model", "T"), {**SETTINGS, "repeats": 2}, "cpu")
    assert Grid(tmp_path / "t.csv", ("model", "T"), {**SETTINGS, "repeats": 2}, "cpu", fresh=True).rows == []


def test_run_grid_measures_each_config_once_and_skips_longer_after_a_timeout(tmp_path):
    calls = []

    def measure(job):
        calls.append((job["model"], job["T"]))
        return {"status": "timeout"} if (job["model"], job["T"]) == ("slow", 16) else {"status": "ok", "ms": 1.0}

    jobs = [{"model": m, "T": T} for T in (8, 16, 32) for m in ("fast", "slow")]
    grid = Grid(tmp_path / "t.csv", ("model", "T"), SETTINGS, "cpu")
    run_grid(grid, jobs, measure, 10, False, grows="T", log=lambda *_: None)
    assert calls == [("fast", 8), ("slow", 8), ("fast", 16), ("slow", 16), ("fast", 32)]
    status = {(r["model"], r["T"]): r["status"] for r in grid.rows}
    assert status["slow", 32] == "skipped" and status["fast", 32] == "ok"
    calls.clear()
    run_grid(
        Grid(tmp_path / "t.csv", ("model", "T"), SETTINGS, "cpu"),
        jobs,
        measure,
        10,
        False,
        grows="T",
        log=lambda *_: None,
    )
    assert calls == []  # resumed: nothing measured twice


def test_state_bytes_counts_nested_tensors():
    state = [(torch.zeros(2, 3), None), [torch.zeros(4, dtype=torch.float64)], {"k": torch.zeros(1, dtype=torch.int8)}]
    assert state_bytes(state) == 2 * 3 * 4 + 4 * 8 + 1


def test_memory_probe_sees_torch_allocations_in_a_fresh_process():
    code = (  # torch.ones warmed up first: RSS the first call adds is not the tensor (45 MiB over once, cause unknown)
        "import torch; from minrnn.bench.grid import MemoryProbe\ntorch.ones(1024) + 1\n"
        "with MemoryProbe(torch.device('cpu')) as m:\n    x = torch.ones(64 * 2**20 // 4 * 4)\n"
        "print(m.mib)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 255 <= float(out.stdout) <= 320  # a 256 MiB tensor, not counted twice
