"""A local sweep stops like a single run (minrnn.harness.local_sweep): signals driven from the test,
files polled, every wait bounded."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minrnn.harness.local_sweep import ENV, LocalSweepSignals, SweepStop
from minrnn.harness.trainer import StopSignals

SEEDS = (0, 1, 2)  # two workers: two runs start, the third is queued
STEPS = 600  # long enough that the first run rarely finishes before the second has logged two steps


def sweep_command(tmp: Path) -> list[str]:
    exe = Path(sys.executable).with_name("minrnn-train")
    return [
        str(exe),
        "-m",
        "experiment=table1/mingru",
        f"seed={','.join(map(str, SEEDS))}",
        "hydra/launcher=local",
        "threads=1",
        *f"logger.mode=disabled trainer.progress=false paths.runs={tmp}/runs paths.results={tmp}/results".split(),
        *"task.arch.dim=16 task.arch.expansion=1 task.arch.depth=1 task.eval_batches=1".split(),
        *f"trainer.max_steps={STEPS} trainer.eval_every={STEPS} trainer.log_every=5 trainer.checkpoint_every=0".split(),
    ]


def logged_steps(run_dir: Path) -> list[int]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["step"] for line in path.read_text().splitlines() if "train_loss" in line]


def alive_in_session(sid: int) -> list[str]:
    """Processes of session ``sid`` that still run (zombies, already dead, are left to their reaper)."""
    out = subprocess.run(["ps", "-eo", "sid=,stat=,pid=,args="], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if int(ln.split()[0]) == sid and not ln.split()[1].startswith("Z")]


def interrupt(tmp: Path, sig: int, to_group: bool):
    """Start the sweep, send ``sig`` once both running runs have logged a few steps; returns the
    process, its stderr and the run directories."""
    env = {k: v for k, v in os.environ.items() if k != ENV}
    proc = subprocess.Popen(
        sweep_command(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    runs = tmp / "runs" / "selective_copy" / "cpu"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        dirs = sorted(runs.glob("mingru-L1-s*")) if runs.exists() else []
        if sum(len(logged_steps(d)) >= 2 for d in dirs) >= 2:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"the sweep did not start two runs in time: {proc.communicate()[1][-2000:]}")
    (os.killpg if to_group else os.kill)(proc.pid, sig)
    _, err = proc.communicate(timeout=240)
    return proc, err, {int(d.name.split("-s")[1].split("-")[0]): d for d in runs.glob("mingru-L1-s*")}


def listed(err: str) -> dict[int, str]:
    """Where the stop message says each seed's run stands (each seed listed once)."""
    lines = [ln.strip() for ln in err.splitlines() if ln.startswith("  selective_copy/")]
    seeds = [int(ln.split("-s")[1].split("-")[0]) for ln in lines]
    assert sorted(seeds) == list(SEEDS), err[-2000:]
    return {seed: ln.split(": ", 1)[1] for seed, ln in zip(seeds, lines, strict=True)}


def assert_stopped(tmp, proc, err, dirs, sig):
    """Exit 128 + sig, no traceback, every run of the sweep listed as it stands on disk, no process of
    the sweep left running. Unless a run finished before the signal reached it (a loaded machine), both
    running runs checkpointed and the queued one did not start."""
    assert proc.returncode == 128 + sig, err[-2000:]
    assert "Traceback" not in err and "leaked" not in err, err[-2000:]
    assert f"sweep stopped by {signal.Signals(sig).name}" in err and "Rerun the same command to resume." in err
    where = listed(err)
    results = tmp / "results" / "selective_copy" / "cpu"
    for seed, state in where.items():
        result = [p for p in results.glob(f"mingru-L1-s{seed}-*.json")] if results.exists() else []
        if state.endswith("checkpoint saved"):
            assert state.startswith("stopped at step ") and (dirs[seed] / "checkpoint.pt").exists()
            assert not result  # a stopped run writes no result
        elif state == "finished, result saved":
            assert len(result) == 1
        else:
            assert state == "not started" and not (seed in dirs and logged_steps(dirs[seed])), (seed, state)
    if "finished, result saved" not in where.values():
        assert all(where[s].endswith("checkpoint saved") for s in SEEDS[:2]), err[-2000:]
        assert where[SEEDS[-1]] == "not started", err[-2000:]
    assert any(state.endswith("checkpoint saved") for state in where.values()), err[-2000:]
    deadline = time.monotonic() + 30
    while alive_in_session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive_in_session(proc.pid)


def test_ctrl_c_to_a_sweep_checkpoints_every_run_and_leaves_nothing_running(tmp_path):
    proc, err, dirs = interrupt(tmp_path, signal.SIGINT, to_group=True)
    assert_stopped(tmp_path, proc, err, dirs, signal.SIGINT)


def test_sigterm_to_the_parent_reaches_the_workers_and_a_rerun_resumes_every_run(tmp_path):
    proc, err, dirs = interrupt(tmp_path, signal.SIGTERM, to_group=False)
    assert_stopped(tmp_path, proc, err, dirs, signal.SIGTERM)
    where = listed(err)
    done = subprocess.run(sweep_command(tmp_path), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for seed, state in where.items():
        if state.endswith("checkpoint saved"):
            assert f"resuming {dirs[seed]} from step" in done.stdout
    for seed in SEEDS:  # the log holds every step once: resuming cut what followed the checkpoint
        assert logged_steps(dirs[seed]) == list(range(5, STEPS + 1, 5)), seed
    assert len(list((tmp_path / "results" / "selective_copy" / "cpu").glob("*.json"))) == 3


def test_a_run_outside_a_local_sweep_does_not_join_one(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert SweepStop.join() is None


def test_a_sweep_signal_stops_the_run_after_its_checkpoint(tmp_path, monkeypatch):
    (tmp_path / "workers").mkdir()
    sweep = SweepStop(tmp_path, parent=False)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        sweep.install()
        with StopSignals(sweep=sweep) as signals:
            os.kill(os.getpid(), signal.SIGINT)
            assert signals.take() == [signal.SIGINT]
            assert signals.hand_on(signal.SIGINT) is True
        assert sweep.signum() == signal.SIGINT
        with StopSignals(sweep=sweep) as signals:  # a run set up after the sweep was stopped stops at its first step
            assert signals.take() == [signal.SIGINT]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def small_sweep(tmp: Path, *values: str) -> list[str]:
    exe = Path(sys.executable).with_name("minrnn-train")
    return [
        str(exe),
        "-m",
        *values,
        "hydra/launcher=local",
        "threads=1",
        *f"logger.mode=disabled trainer.progress=false paths.runs={tmp}/runs paths.results={tmp}/results".split(),
        *"task.seq_len=8 task.num_tokens=2 task.eval_batches=1 task.arch.dim=16 task.arch.depth=1".split(),
        *"trainer.max_steps=6 trainer.eval_every=3".split(),
    ]


def test_a_failing_run_fails_alone_and_a_rerun_retries_only_it(tmp_path):
    cmd = small_sweep(tmp_path, "trainer.lr=1e-3,1e9")  # the second run diverges at once
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stderr[-2000:]
    (result,) = (tmp_path / "results/selective_copy/cpu").glob("*.json")  # the healthy run's result
    assert "1 run(s) of the sweep failed" in out.stderr and "non-finite loss" in out.stderr
    assert "Traceback" not in out.stderr
    before = result.read_bytes()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and "finished already" in again.stdout and result.read_bytes() == before


def test_a_bad_value_anywhere_in_a_sweep_is_found_before_any_run_starts(tmp_path):
    out = subprocess.run(small_sweep(tmp_path, "seed=0,-1,2"), capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "run 2 of 3 of the sweep" in out.stderr and "seed=-1" in out.stderr
    assert out.stderr.strip().count("\n") == 0 and not (tmp_path / "results").exists()
    assert not (tmp_path / "runs").exists()


def test_a_stopped_sweep_lists_every_run_finished_and_failed_ones_too(tmp_path, capsys, monkeypatch):
    """The stop message names every run where it stands: one that finished before the signal and one
    that failed are listed beside the stopped and queued ones, not dropped."""
    monkeypatch.setenv(ENV, str(tmp_path))  # on_multirun_end pops it
    callback = LocalSweepSignals()
    (tmp_path / "workers").mkdir()
    callback.sweep = SweepStop(tmp_path, parent=False)
    callback.sweep.report("a-s0: finished, result saved")
    callback.sweep.report("a-s1: stopped at step 7, checkpoint saved")
    callback.sweep.fail("a-s2: non-finite loss at step 3")
    callback.sweep.report("a-s3: not started")
    (tmp_path / "signal").write_text(str(int(signal.SIGTERM)))
    with pytest.raises(SystemExit) as stop:
        callback.on_multirun_end(None)
    assert stop.value.code == 128 + signal.SIGTERM
    err = capsys.readouterr().err
    lines = [ln.strip() for ln in err.splitlines() if ln.startswith("  ")]
    assert lines == [
        "a-s0: finished, result saved",
        "a-s1: stopped at step 7, checkpoint saved",
        "a-s3: not started",
        "a-s2: non-finite loss at step 3 (failed)",
    ]
    assert not tmp_path.exists()  # the sweep's folder is removed
