"""Sweeps through a real Slurm scheduler (make test-slurm: scripts/slurm_local.sh starts a one-node
cluster first and stops it on every exit path). Each test submits through hydra-submitit-launcher,
drives the scheduler from here (requeue, cancel) and waits for files with a bound, never a sleep."""

import datetime
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


ENDLESS = 10**6  # steps: a run that outlasts any test; it is compared with a reference step by step


def tiny(tmp: Path, steps: int, *extra: str) -> list[str]:
    """A deterministic one-thread run, checkpointed every 10 steps."""
    return [
        "experiment=table1/mingru",
        "threads=1",
        *f"logger.mode=disabled trainer.progress=false paths.runs={tmp}/runs paths.results={tmp}/results".split(),
        *"task.arch.dim=16 task.arch.expansion=1 task.arch.depth=1 task.eval_batches=1".split(),
        *f"trainer.max_steps={steps} trainer.eval_every={min(steps // 2, 20)} trainer.log_every=5".split(),
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
    return [job[:3] for job in _squeue(tmp)]


def _squeue(tmp: Path) -> list[tuple[str, str, str, str]]:
    out = subprocess.run(["squeue", "-h", "-o", "%i|%T|%r|%S|%o"], capture_output=True, text=True).stdout
    return [tuple(line.split("|")[:4]) for line in out.splitlines() if str(tmp) in line]


_REQUEUED: dict[tuple[str, str], float] = {}  # (job, its begin time) -> when the test first saw it wait


def start_requeued_jobs_soon(tmp: Path) -> None:
    """A requeued job waits about two minutes (its BeginTime) before Slurm starts it again; as the
    cluster's admin, the test starts it (StartTime=now, which schedules at once) 3 s after it first sees
    it waiting. Not at once: slurmd refuses a launch in the same second as the revocation of the job's
    previous one ("Job credential revoked") and the job ends FAILED. Not by moving the begin time 3 s
    ahead either: then the backfill cycle starts it, in step with the 30-s time-limit check, and the
    1-minute test job was once signalled as it started, before its handler was in place."""
    for job, state, reason, begin in _squeue(tmp):
        if state == "PENDING" and reason == "BeginTime" and begin[:1].isdigit():  # else N/A: not set yet
            ahead = (datetime.datetime.fromisoformat(begin) - datetime.datetime.now()).total_seconds()
            seen = _REQUEUED.setdefault((job, begin), time.monotonic())
            if ahead > 10 and time.monotonic() - seen >= 3:
                subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], capture_output=True)


def wait(tmp: Path, proc: subprocess.Popen, done, what: str, timeout: float = 300) -> None:
    """Poll until done() (or the launcher ends, if that is what is awaited), with a bound; requeued jobs
    start about 3 s after their requeue, not two minutes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended before {what}: {proc.communicate()[0][-3000:]}")
        start_requeued_jobs_soon(tmp)
        time.sleep(0.3)
    proc.kill()
    pytest.fail(f"{what} did not happen in {timeout} s: {proc.communicate()[0][-3000:]}")


def finish(proc: subprocess.Popen, tmp: Path, timeout: float = 420) -> str:
    """Wait for the launcher to return; its output."""
    wait(tmp, proc, lambda: proc.poll() is not None, "the end of the sweep", timeout)
    return proc.communicate()[0]


def cancel(tmp: Path) -> None:
    for job, _, _ in jobs(tmp):
        subprocess.run(["scancel", job], capture_output=True)


@pytest.fixture(autouse=True)
def _cancel_leftovers(tmp_path):
    yield
    cancel(tmp_path)


def run_dir(tmp: Path) -> Path:
    found = list((tmp / "runs" / "selective_copy" / "cpu").glob("mingru-*"))
    return found[0] if found else tmp / "nowhere"


def logged(tmp: Path) -> list[dict]:
    """The run's metrics.jsonl (a line still being written is left out)."""
    path = run_dir(tmp) / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(x) for x in lines if x.endswith("}")]


def reached(tmp: Path, step: int):
    return lambda: any(r["step"] >= step for r in logged(tmp))


def job_logs(tmp: Path) -> str:
    return "".join(p.read_text() for p in (tmp / "runs" / ".submitit").rglob("*_log.out"))


def until(log: list[dict], step: int) -> list[dict]:
    """What an interruption must not change: every logged loss and accuracy up to ``step``."""
    return [{k: v for k, v in r.items() if k != "tokens_per_s"} for r in log if r["step"] <= step]


def reference(tmp: Path, step: int) -> list[dict]:
    """The log of the same run, uninterrupted, up to ``step`` (then stopped)."""
    tmp.mkdir()
    proc = subprocess.Popen(
        [TRAIN, *tiny(tmp, ENDLESS)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp
    )
    wait(tmp, proc, reached(tmp, step), f"step {step} of the reference run")
    proc.terminate()
    proc.communicate(timeout=60)
    return until(logged(tmp), step)


def resumed_then(tmp: Path, proc: subprocess.Popen, steps: int = 20) -> int:
    """Wait until the job has resumed from its checkpoint and trained ``steps`` more; that step."""
    found = re.compile(r"resuming .* from step (\d+)")
    wait(tmp, proc, lambda: found.search(job_logs(tmp)), "the resumption", timeout=300)
    upto = int(found.search(job_logs(tmp)).group(1)) + steps
    wait(tmp, proc, reached(tmp, upto), f"step {upto} after resuming")
    return upto


def test_a_sweep_of_two_runs_completes_through_the_scheduler(tmp_path):
    out = finish(submit(tmp_path, *tiny(tmp_path, 20), "seed=0,1"), tmp_path)
    names = sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "results").rglob("*.json"))
    assert names == ["mingru-L1-s0", "mingru-L1-s1"], out[-3000:]
    assert "Bypassing sacct error" not in out  # the cluster's sacct stand-in answers submitit


# The two tests below do not depend on how fast training is: the run never ends by itself; each waits for
# the events it needs (a checkpoint, the requeue, the resumption), cancels the job, and compares the log
# with an uninterrupted run of the same config up to the same step.


def test_scontrol_requeue_resumes_from_the_checkpoint_and_equals_an_uninterrupted_run(tmp_path):
    proc = submit(tmp_path, *tiny(tmp_path, ENDLESS))
    wait(tmp_path, proc, reached(tmp_path, 40), "step 40")
    ((job, _, _),) = jobs(tmp_path)
    subprocess.run(["scontrol", "requeue", job], check=True)
    upto = resumed_then(tmp_path, proc)
    cancel(tmp_path)
    finish(proc, tmp_path)
    assert until(logged(tmp_path), upto) == reference(tmp_path / "reference", upto)


def test_the_signal_before_the_time_limit_requeues_and_the_run_resumes_identically(tmp_path):
    # SIGUSR2 is due 30 s into each attempt (a 2-minute limit, signalled 90 s before); Slurm checks
    # time limits every 30 s, so it arrives 30 to 60 s in. Not sooner: submitit installs its handler only
    # after unpickling the job (importing torch and the harness), which took over 10 s on a loaded CI
    # machine, and a signal before that kills the job (state FAILED, "User defined signal 2")
    limit = "hydra.launcher.timeout_min=2 hydra.launcher.signal_delay_s=90 hydra.launcher.max_num_timeout=10".split()
    proc = submit(tmp_path, *tiny(tmp_path, ENDLESS), *limit)
    upto = resumed_then(tmp_path, proc)
    cancel(tmp_path)
    finish(proc, tmp_path)
    assert "SIGUSR2 at step" in job_logs(tmp_path), job_logs(tmp_path)[-3000:]
    assert until(logged(tmp_path), upto) == reference(tmp_path / "reference", upto)


def test_a_failing_job_shows_its_error_and_leaves_no_result(tmp_path):
    out = finish(submit(tmp_path, *tiny(tmp_path, 20), "trainer.grad_accum=0"), tmp_path)
    assert "trainer.grad_accum=0: must be an integer in [1, " in out, out[-3000:]
    assert not list((tmp_path / "results").rglob("*.json"))


def test_a_job_the_scheduler_kills_is_listed_by_the_tables_as_unfinished(tmp_path):
    proc = submit(tmp_path, *tiny(tmp_path, ENDLESS))
    wait(tmp_path, proc, reached(tmp_path, 20), "step 20")
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
