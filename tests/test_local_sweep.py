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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from minrnn.harness import local_sweep
from minrnn.harness.local_sweep import ENV, LocalSweepSignals, SweepStop
from minrnn.harness.trainer import StopSignals

SEEDS = (0, 1, 2)  # two workers: two runs start, the third is queued
ENDLESS = 10**6  # steps: no run finishes before the signal, however loaded the machine (waits are on events)


def sweep_command(tmp: Path, seeds=SEEDS, launcher: str = "local", extra: tuple[str, ...] = ()) -> list[str]:
    exe = Path(sys.executable).with_name("minrnn-train")
    return [
        str(exe),
        "-m",
        "experiment=table1/mingru",
        f"seed={','.join(map(str, seeds))}",
        f"hydra/launcher={launcher}",
        "threads=1",
        *f"logger.mode=disabled trainer.progress=false paths.runs={tmp}/runs paths.results={tmp}/results".split(),
        *"task.arch.dim=16 task.arch.expansion=1 task.arch.depth=1 task.eval_batches=1".split(),
        *f"trainer.max_steps={ENDLESS} trainer.eval_every={ENDLESS} trainer.log_every=5".split(),
        "trainer.checkpoint_every=0",
        *extra,
    ]


def logged_steps(run_dir: Path) -> list[int]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["step"] for line in path.read_text().splitlines() if "train_loss" in line]


def run_dirs(tmp: Path) -> dict[int, Path]:
    runs = tmp / "runs" / "selective_copy" / "cpu"
    return {int(d.name.split("-s")[1].split("-")[0]): d for d in runs.glob("mingru-L1-s*")} if runs.exists() else {}


def alive_in_session(sid: int) -> list[str]:
    """Processes of session ``sid`` that still run (zombies, already dead, are left to their reaper)."""
    out = subprocess.run(["ps", "-eo", "sid=,stat=,pid=,args="], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if int(ln.split()[0]) == sid and not ln.split()[1].startswith("Z")]


def interrupt(tmp: Path, sig: int, to_group: bool, past: dict[int, int], ready=lambda: True, **sweep):
    """Start the sweep, send ``sig`` once the run of each seed in ``past`` has logged a step beyond the
    one given and ``ready()`` (events, not times: the runs never end by themselves); returns the
    process, its stdout and stderr. The sweep's own folder is made under ``tmp/sweep``."""
    (tmp / "sweep").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != ENV} | {"TMPDIR": str(tmp / "sweep")}
    proc = subprocess.Popen(
        sweep_command(tmp, **sweep), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 600  # a bound for a hung sweep, far beyond a loaded machine's start-up
    while time.monotonic() < deadline and proc.poll() is None:
        dirs = run_dirs(tmp)
        if all(s in dirs and max(logged_steps(dirs[s]), default=0) > step for s, step in past.items()) and ready():
            break
        time.sleep(0.2)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"the sweep did not reach {past}: {proc.communicate()[1][-2000:]}")
    (os.killpg if to_group else os.kill)(proc.pid, sig)
    out, err = proc.communicate(timeout=600)
    return proc, out, err


def listed(err: str, seeds=SEEDS) -> dict[int, str]:
    """Where the stop message says each seed's run stands (each seed listed once)."""
    lines = [ln.strip() for ln in err.splitlines() if ln.startswith("  selective_copy/")]
    found = [int(ln.split("-s")[1].split("-")[0]) for ln in lines]
    assert sorted(found) == sorted(seeds), err[-2000:]
    return {seed: ln.split(": ", 1)[1] for seed, ln in zip(found, lines, strict=True)}


def checkpoint_step(run_dir: Path) -> int | None:
    import torch

    path = run_dir / "checkpoint.pt"
    return torch.load(path, map_location="cpu", weights_only=True)["step"] if path.exists() else None


def assert_stopped(tmp, proc, err, sig, expected: dict[int, str]) -> dict[int, int]:
    """Exit 128 + sig, no traceback, each run listed once as ``expected`` says ("stopped": at the step of
    its checkpoint on disk, with every logged step once up to it; "not started"; "kept": not started,
    its earlier checkpoint kept), no result written, no process of the sweep left. Returns the steps."""
    assert proc.returncode == 128 + sig, err[-2000:]
    assert "Traceback" not in err and "leaked" not in err, err[-2000:]
    assert f"sweep stopped by {signal.Signals(sig).name}" in err and "Rerun the same command to resume." in err
    where, dirs, steps = listed(err, expected), run_dirs(tmp), {}
    for seed, state in expected.items():
        if state == "stopped":
            steps[seed] = checkpoint_step(dirs[seed])
            assert where[seed] == f"stopped at step {steps[seed]}, checkpoint saved", (seed, err[-2000:])
            assert logged_steps(dirs[seed]) == list(range(5, steps[seed] + 1, 5)), seed  # each step once
        elif state == "kept":
            assert where[seed] == "not started; its checkpoint is kept and a rerun resumes it", err[-2000:]
            assert checkpoint_step(dirs[seed]) is not None
        else:
            assert where[seed] == "not started" and not (seed in dirs and logged_steps(dirs[seed])), err[-2000:]
    assert not list((tmp / "results").rglob("*.json"))
    deadline = time.monotonic() + 120
    while alive_in_session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive_in_session(proc.pid)
    return steps


def test_ctrl_c_to_a_sweep_checkpoints_every_run_and_leaves_nothing_running(tmp_path):
    proc, _, err = interrupt(tmp_path, signal.SIGINT, to_group=True, past={0: 5, 1: 5})
    assert_stopped(tmp_path, proc, err, signal.SIGINT, {0: "stopped", 1: "stopped", 2: "not started"})


def test_sigterm_to_the_parent_reaches_the_workers_and_a_rerun_resumes_every_run_stopped_twice(tmp_path):
    """Stopped, rerun in another order (the third run first), stopped again once both resumed runs have
    gone on: each resumes from its checkpoint, logs every step once, and the queued run keeps its own."""
    proc, _, err = interrupt(tmp_path, signal.SIGTERM, to_group=False, past={0: 5, 1: 5})
    first = assert_stopped(tmp_path, proc, err, signal.SIGTERM, {0: "stopped", 1: "stopped", 2: "not started"})
    again = {2: 5, 1: first[1] + 5}  # seeds 2 and 1 run, 0 waits with its checkpoint
    proc, out, err = interrupt(tmp_path, signal.SIGTERM, to_group=False, past=again, seeds=(2, 1, 0))
    second = assert_stopped(tmp_path, proc, err, signal.SIGTERM, {2: "stopped", 1: "stopped", 0: "kept"})
    assert f"resuming {run_dirs(tmp_path)[1]} from step {first[1]}" in out, out[-2000:]
    assert second[1] > first[1] and checkpoint_step(run_dirs(tmp_path)[0]) == first[0]


def test_the_basic_launcher_runs_a_sweep_in_process_and_stops_it_the_same_way(tmp_path):
    proc, _, err = interrupt(tmp_path, signal.SIGTERM, to_group=False, past={0: 5}, launcher="basic")
    assert_stopped(tmp_path, proc, err, signal.SIGTERM, {0: "stopped", 1: "not started", 2: "not started"})


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
        "a-s2: non-finite loss at step 3 (failed)",
        "a-s3: not started",
    ]
    assert not tmp_path.exists()  # the sweep's folder is removed


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    order=st.permutations(range(12)),
    failed=st.sets(st.integers(0, 11)),
    base=st.sampled_from([0, 10**9 - 6, 10**12]),  # past 9 digits the names sorted as text broke the order
)
def test_a_stopped_sweep_lists_its_runs_in_the_sweep_order_whatever_order_they_reported_in(
    tmp_path_factory, monkeypatch, order, failed, base
):
    """Runs report as they stop, in any order; the listing follows Hydra's job numbers (job 2 before
    job 10, which sorting the lines as text would reverse), failed runs in their place; a file of another
    name in the folder is no run (it was an IndexError)."""
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "7-stray").write_text("not a run")
    order = [base + n for n in order]
    sweep, job = SweepStop(folder, parent=False), {"num": 0}

    class Hydra:
        initialized = staticmethod(lambda: True)
        get = staticmethod(lambda: OmegaConf.create({"job": job}))

    monkeypatch.setattr(local_sweep, "HydraConfig", Hydra)
    for n in order:
        job["num"] = n
        (sweep.fail if n - base in failed else sweep.report)(f"a-s{n}: line")
    assert sweep.listing() == [f"a-s{n}: line" + (" (failed)" if n - base in failed else "") for n in sorted(order)]
    assert sweep.failures() == [f"a-s{base + n}: line" for n in sorted(failed)]


def test_a_run_that_failed_before_the_signal_is_listed_failed_beside_the_stopped_one(tmp_path):
    """Two runs: one diverges at once (its failure noted in the sweep's folder), the other trains; the
    signal comes after both events: each is listed once, as it stands."""
    folder = tmp_path / "runs" / "selective_copy" / "cpu"

    def ready() -> bool:
        failed = list((tmp_path / "sweep").glob("minrnn-sweep-*/*-failed"))
        return bool(failed) and any(max(logged_steps(d), default=0) > 5 for d in folder.glob("mingru-*"))

    extra = ("trainer.lr=1e9,1e-3",)
    proc, _, err = interrupt(tmp_path, signal.SIGINT, to_group=True, past={}, ready=ready, seeds=(0,), extra=extra)
    assert proc.returncode == 128 + signal.SIGINT and "Traceback" not in err, err[-2000:]
    lines = [ln.strip() for ln in err.splitlines() if ln.startswith("  selective_copy/")]
    # in the sweep's order: job 0 (lr=1e9) failed, job 1 (lr=1e-3) stopped
    assert len(lines) == 2 and lines[1].endswith(", checkpoint saved"), err[-2000:]
    assert "non-finite loss" in lines[0] and lines[0].endswith("(failed)"), err[-2000:]
    assert not list((tmp_path / "results").rglob("*.json"))


def test_a_run_a_stopped_sweep_did_not_start_is_listed_as_it_stands_on_disk(tmp_path):
    """Queued when a rerun was stopped: a run that an earlier invocation finished is finished, one it
    stopped keeps its checkpoint, and only a run never trained is 'not started'."""
    from harness import compose_cfg, tiny

    from minrnn.harness.train import not_started, run

    cfg = compose_cfg(tiny(tmp_path))
    assert not_started(cfg) == "not started"
    checkpoint = tmp_path / "runs" / cfg.run_name / "checkpoint.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"")  # only its presence matters here
    assert not_started(cfg) == "not started; its checkpoint is kept and a rerun resumes it"
    checkpoint.unlink()
    run(cfg)
    assert not_started(cfg) == "finished, result saved"


@pytest.mark.parametrize("values", [("seed=0,0",), ("seed=1", "threads=1,2")])
def test_two_jobs_that_are_one_run_are_refused_before_any_run_starts(tmp_path, values):
    """One run twice in a sweep would train into one folder and write one result file: refused."""
    cmd = [a for a in small_sweep(tmp_path, *values) if a != "threads=1" or "threads=1,2" not in values]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "runs 1 and 2 of 2 of the sweep" in out.stderr and "are the same run" in out.stderr
    assert out.stderr.strip().count("\n") == 0 and not (tmp_path / "runs").exists()


DEFECT = """import minrnn.harness.train as T
build = T.build
def broken(cfg):
    if cfg.seed == 1:
        raise RuntimeError("boom: a defect, not a bad input")
    return build(cfg)
T.build = broken
"""


def test_a_run_that_hits_a_defect_fails_alone_with_its_traceback_kept(tmp_path):
    """An exception that is not a bad input (a defect, torch's own RuntimeError) is one line naming the run
    and where its traceback is kept: alone, exit 1; in a sweep, the other runs finish and the sweep names
    it (a sitecustomize plants the defect in every process of the sweep, joblib's workers included)."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(DEFECT)
    env = {**{k: v for k, v in os.environ.items() if k != ENV}, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run(small_sweep(tmp_path, "seed=0,1"), capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert "1 run(s) of the sweep failed" in out.stderr and "RuntimeError: boom: a defect" in out.stderr
    (result,) = (tmp_path / "results/selective_copy/cpu").glob("*.json")
    assert "-s0-" in result.name  # the healthy run finished
    (kept,) = (tmp_path / "runs").rglob("error.txt")
    assert "-s1-" in str(kept) and f"(traceback: {kept})" in out.stderr
    assert "Traceback" in kept.read_text() and "boom: a defect" in kept.read_text()
    single = [a for a in small_sweep(tmp_path / "one", "seed=1") if a != "-m"]
    alone = subprocess.run(single, capture_output=True, text=True, timeout=300, env=env)
    assert alone.returncode == 1 and "Traceback" not in alone.stderr, alone.stderr[-2000:]
    assert alone.stderr.strip().count("\n") == 0 and "RuntimeError: boom: a defect" in alone.stderr
