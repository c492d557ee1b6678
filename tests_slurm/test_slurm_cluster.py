"""Sweeps through a real Slurm scheduler (make test-slurm: scripts/slurm_local.sh starts a one-node
cluster first and stops it on every exit path). Each test submits through hydra-submitit-launcher,
drives the scheduler from here (requeue, cancel) and waits for files with a bound, never a sleep."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TRAIN = str(Path(sys.executable).with_name("minrnn-train"))
LAUNCHER = (
    "hydra/launcher=slurm hydra.launcher.gpus_per_node=0 hydra.launcher.cpus_per_task=1 hydra.launcher.mem_gb=2"
).split()


def _need_cluster():
    if not os.environ.get("SLURM_CONF") or shutil.which("sbatch") is None:
        pytest.fail("no Slurm cluster: run these through `make test-slurm` (scripts/slurm_local.sh start)")


def tiny(tmp: Path, steps: int, *extra: str) -> list[str]:
    """A deterministic one-thread run, checkpointed every 10 steps."""
    return [
        "experiment=table1/mingru",
        "threads=1",
        *f"logger.mode=disabled trainer.progress=false paths.runs={tmp}/runs paths.results={tmp}/results".split(),
        *"task.arch.dim=16 task.arch.expansion=1 task.arch.depth=1 task.eval_batches=1".split(),
        *f"trainer.max_steps={steps} trainer.eval_every={steps // 2} trainer.log_every=5".split(),
        "trainer.checkpoint_every=10",
        "trainer.deterministic=true",
        *extra,
    ]


def submit(tmp: Path, *overrides: str) -> subprocess.Popen:
    _need_cluster()
    return subprocess.Popen(
        [TRAIN, "-m", *LAUNCHER, *overrides], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp
    )


def jobs(tmp: Path) -> list[tuple[str, str, str]]:
    """(job id, state, reason) of this test's jobs (their submission script lies under tmp)."""
    out = subprocess.run(["squeue", "-h", "-o", "%i|%T|%r|%o"], capture_output=True, text=True).stdout
    return [tuple(line.split("|")[:3]) for line in out.splitlines() if str(tmp) in line]


def finish(proc: subprocess.Popen, tmp: Path, timeout: float = 420) -> str:
    """Wait for the launcher to return. A requeued job waits about two minutes (its BeginTime) before
    Slurm starts it again; as the cluster's admin, the test starts it at once."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        for job, state, reason in jobs(tmp):
            if state == "PENDING" and reason == "BeginTime":
                subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], capture_output=True)
        time.sleep(0.5)
    if proc.poll() is None:
        proc.kill()
        pytest.fail(f"the sweep did not finish in {timeout} s: {proc.communicate()[0][-3000:]}")
    return proc.communicate()[0]


@pytest.fixture(autouse=True)
def _cancel_leftovers(tmp_path):
    yield
    for job, _, _ in jobs(tmp_path):
        subprocess.run(["scancel", job], capture_output=True)


def run_dir(tmp: Path) -> Path:
    found = list((tmp / "runs" / "selective_copy" / "cpu").glob("mingru-*"))
    return found[0] if found else tmp / "nowhere"


def logged(tmp: Path) -> list[dict]:
    path = run_dir(tmp) / "metrics.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def wait_for_step(tmp: Path, step: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r["step"] >= step for r in logged(tmp)):
            return
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended before step {step}: {proc.communicate()[0][-3000:]}")
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"step {step} not reached in {timeout} s")


def outcome(tmp: Path) -> dict:
    """What an interruption must not change: the final metrics and every logged loss."""
    summary = json.loads(next((tmp / "results").rglob("*.json")).read_text())
    metrics = {k: v for k, v in summary["metrics"].items() if k != "train_seconds_this_session"}
    return {"metrics": metrics, "log": [{k: v for k, v in r.items() if k != "tokens_per_s"} for r in logged(tmp)]}


def uninterrupted(tmp: Path, steps: int) -> dict:
    tmp.mkdir()
    subprocess.run([TRAIN, *tiny(tmp, steps)], check=True, capture_output=True, cwd=tmp)
    return outcome(tmp)


def test_a_sweep_of_two_runs_completes_through_the_scheduler(tmp_path):
    out = finish(submit(tmp_path, *tiny(tmp_path, 20), "seed=0,1"), tmp_path)
    names = sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "results").rglob("*.json"))
    assert names == ["mingru-L1-s0", "mingru-L1-s1"], out[-3000:]
    assert "Bypassing sacct error" not in out  # the cluster's sacct stand-in answers submitit


def test_scontrol_requeue_resumes_from_the_checkpoint_and_equals_an_uninterrupted_run(tmp_path):
    # long enough to outlast KillWait (10 s) after the SIGTERM, so Slurm kills and requeues it: about 45 s
    # here (1000 steps, 8 s after the SIGTERM since the faster kernels, did not)
    steps = 3000
    reference = uninterrupted(tmp_path / "reference", steps)
    proc = submit(tmp_path, *tiny(tmp_path, steps))
    wait_for_step(tmp_path, 40, proc)
    ((job, _, _),) = jobs(tmp_path)
    subprocess.run(["scontrol", "requeue", job], check=True)
    out = finish(proc, tmp_path)
    assert outcome(tmp_path) == reference, out[-3000:]
    logs = "".join(p.read_text() for p in (tmp_path / "runs" / ".submitit").rglob("*_log.out"))
    assert re.search(r"resuming .* from step (\d+)", logs), logs[-3000:]


def test_the_signal_before_the_time_limit_requeues_and_the_run_resumes_identically(tmp_path):
    # SIGUSR2 is due 10 s into each attempt (a 1-minute limit, signalled 50 s before), but Slurm checks
    # time limits every 30 s: it arrives 10 to 40 s in. 6000 steps take about 90 s on one core here.
    steps = 6000
    reference = uninterrupted(tmp_path / "reference", steps)
    limit = "hydra.launcher.timeout_min=1 hydra.launcher.signal_delay_s=50 hydra.launcher.max_num_timeout=10".split()
    out = finish(submit(tmp_path, *tiny(tmp_path, steps), *limit), tmp_path, timeout=600)
    logs = "".join(p.read_text() for p in (tmp_path / "runs" / ".submitit").rglob("*_log.out"))
    assert "SIGUSR2 at step" in logs, (out + logs)[-3000:]
    assert re.search(r"resuming .* from step (\d+)", logs), logs[-3000:]
    assert outcome(tmp_path) == reference


def test_a_failing_job_shows_its_error_and_leaves_no_result(tmp_path):
    out = finish(submit(tmp_path, *tiny(tmp_path, 20), "trainer.grad_accum=0"), tmp_path)
    assert "trainer.grad_accum=0: must be an integer > 0" in out, out[-3000:]
    assert not list((tmp_path / "results").rglob("*.json"))


def test_a_job_the_scheduler_kills_is_listed_by_the_tables_as_unfinished(tmp_path):
    proc = submit(tmp_path, *tiny(tmp_path, 2000))
    wait_for_step(tmp_path, 20, proc)
    ((job, _, _),) = jobs(tmp_path)
    subprocess.run(["scancel", job], check=True)
    finish(proc, tmp_path)
    assert not list((tmp_path / "results").rglob("*.json"))
    tables = subprocess.run(
        [
            sys.executable,
            "scripts/make_tables.py",
            "--results",
            str(tmp_path / "results"),
            "--runs",
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert "checkpoint but no summary" in tables.stderr and run_dir(tmp_path).name in tables.stderr, tables.stderr
