"""Fault injection: kill training runs at random steps, feed the tools bad input, check nothing is lost.

Five kinds of trial, each on a tiny selective-copying run (CPU, deterministic, one thread):
- SIGKILL at a random step, then rerun the same command: the final metrics and metrics.jsonl must
  equal those of an uninterrupted run bit for bit (the run resumes from its last checkpoint).
- SIGTERM (how Slurm preempts) at a random step: the run must save a checkpoint at that step and
  exit with 143, and the rerun must again equal the uninterrupted run.
- A local sweep of two runs stopped by Ctrl-C (SIGINT to its process group) or by SIGTERM to its
  parent: exit 128 + signal, no traceback, no process left; the rerun must equal uninterrupted runs.
- Network loss: W&B online with no server to reach must fall back to offline and train the same.
- Bad input (unknown names, impossible settings, missing or corrupt data, foreign or truncated
  checkpoints, empty or corrupt results): one clear message, non-zero exit, no traceback, and every
  file that existed before is unchanged (the catalogue: tests/fault_cases.py).

    python tests/fault_injection.py --kills 10 --terms 5 --sweeps 2      # writes results/reliability/faults.{json,md}

tests/test_fault_injection.py runs one trial of each kind.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from fault_cases import BAD_INPUTS, RUN, SETUPS, STEPS, BadInput, train_argv

from minrnn.harness.records import provenance, write_json_atomic, write_text_atomic

ROOT = Path(__file__).resolve().parent.parent


def outcome(tmp: Path, run: str = RUN) -> dict:
    """What must not depend on interruptions: the summary's metrics and the logged losses."""
    summary = json.loads((tmp / "results" / f"{run}.json").read_text())
    timing = ("train_seconds_this_session", "train_seconds_all_stretches", "stretches")  # how long, not what
    metrics = {k: v for k, v in summary["metrics"].items() if k not in timing}
    lines = [json.loads(x) for x in (tmp / "runs" / run / "metrics.jsonl").read_text().splitlines()]
    log = [{k: v for k, v in x.items() if k != "tokens_per_s"} for x in lines]
    return {"metrics": metrics, "log": log}


def last_logged_step(tmp: Path, run: str = RUN) -> int:
    try:
        lines = (tmp / "runs" / run / "metrics.jsonl").read_text().splitlines()
        return max((json.loads(x)["step"] for x in lines if x.strip().endswith("}")), default=0)
    except (OSError, json.JSONDecodeError):
        return 0


# The interrupted run pauses itself (SIGSTOP) ``HOLD`` steps before its end, so it cannot finish before
# the signal however long the test waits to be scheduled on a loaded machine; the signal still lands at a
# random point of a step (a checkpoint's write included), and a paused run is signalled where it waits.
HOLD = 10
PAUSING = """import os, signal, sys
import minrnn.harness.train as T
from minrnn import cli
at, build = int(sys.argv.pop(1)), T.build
class Paused:
    def __init__(self, task):
        self.task = task
    def __getattr__(self, name):
        return getattr(self.task, name)
    def train_batch(self, batch_size, index):
        if index == at:
            os.kill(os.getpid(), signal.SIGSTOP)
        return self.task.train_batch(batch_size, index)
T.build = lambda cfg: (lambda tm: (Paused(tm[0]), *tm[1:]))(build(cfg))
cli.overrides(sys.argv[1:])
cli.hydra_run(T.main)
"""


def paused(pid: int) -> bool:
    """Whether process ``pid`` is stopped (its state in /proc: T)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except (OSError, IndexError):
        return False


def interrupt(tmp: Path, sig: signal.Signals, at_step: int, steps: int = STEPS) -> tuple[int, int, str]:
    """Start a run of ``steps``, send ``sig`` once it has logged ``at_step`` (or paused, ``HOLD`` steps
    before its end); returns (exit code, step seen before the signal, stderr)."""
    argv, timeout = train_argv(tmp, f"trainer.max_steps={steps}"), 600  # a bound for a hung run only
    assert argv[1:3] == ["-m", "minrnn.harness.train"]
    argv = [argv[0], "-c", PAUSING, str(steps - HOLD), *argv[3:]]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, seen = time.monotonic() + timeout, 0
    while proc.poll() is None and time.monotonic() < deadline:
        seen = last_logged_step(tmp)
        if seen >= at_step or paused(proc.pid):
            proc.send_signal(sig)
            break
        time.sleep(0.005)
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)  # a paused run takes its SIGTERM
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, seen, err


def checkpoint_step(tmp: Path) -> int:
    import torch

    return torch.load(tmp / "runs" / RUN / "checkpoint.pt", map_location="cpu", weights_only=True)["step"]


def straight_run(tmp: Path, *extra: str) -> dict:
    subprocess.run(train_argv(tmp, *extra), check=True, capture_output=True, text=True)
    return outcome(tmp)


def sweep_trial(tmp: Path, references: list[dict], sig: signal.Signals, to_group: bool, at_step: int) -> dict:
    """A local sweep of one run per seed of ``references``, stopped by ``sig`` (to the process group
    as Ctrl-C does, or to the parent alone) once every run has logged ``at_step``, then rerun: exit
    128 + sig with no traceback and no process left, and each run equal to its uninterrupted one."""
    seeds = ",".join(map(str, range(len(references))))
    tiny = [a for a in train_argv(tmp, f"seed={seeds}", "hydra/launcher=local") if not a.startswith("run_name=")]
    argv = [*tiny[:3], "--multirun", *tiny[3:]]  # after "python -m minrnn.harness.train"
    runs: list[str] = []
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    folder, deadline = tmp / "runs" / "selective_copy" / "cpu", time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        runs = sorted(str(p.relative_to(tmp / "runs")) for p in folder.glob("mingru-*")) if folder.exists() else []
        if len(runs) == len(references) and all(last_logged_step(tmp, r) >= at_step for r in runs):
            (os.killpg if to_group else os.kill)(proc.pid, sig)
            break
        time.sleep(0.005)
    _, err = proc.communicate(timeout=120)
    trial = {"signal": f"{sig.name} to the {'group' if to_group else 'parent'}", "target_step": at_step}
    trial.update(exit_code=proc.returncode, interrupted_at=min((last_logged_step(tmp, r) for r in runs), default=0))
    left = [
        ln
        for ln in subprocess.run(["ps", "-eo", "sid=,stat="], capture_output=True, text=True).stdout.splitlines()
        if int(ln.split()[0]) == proc.pid and not ln.split()[1].startswith("Z")
    ]
    if proc.returncode != 128 + sig or "Traceback" in err or left:
        trial.update(ok=False, why=f"exit {proc.returncode}, {len(left)} processes left, stderr: {err.strip()[-300:]}")
        return trial
    resumed = subprocess.run(argv, capture_output=True, text=True)
    trial["resumed_from"] = [int(m) for m in re.findall(r"from step (\d+)", resumed.stdout)]
    if resumed.returncode != 0:
        trial.update(ok=False, why=f"resume exit {resumed.returncode}: {resumed.stderr.strip()[-300:]}")
        return trial
    trial["ok"] = [outcome(tmp, r) for r in runs] == references
    if not trial["ok"]:
        trial["why"] = "metrics differ from the uninterrupted runs"
    return trial


def kill_trial(tmp: Path, reference: dict, sig: signal.Signals, at_step: int) -> dict:
    """Interrupt a run with ``sig`` at ``at_step``, rerun it, and compare with ``reference``."""
    code, seen, err = interrupt(tmp, sig, at_step)
    trial = {"signal": sig.name, "target_step": at_step, "exit_code": code}
    trial["interrupted_at"] = last_logged_step(tmp)  # once it stopped: the step it reached, not the one seen
    if code == 0:
        trial.update(ok=False, why="the run finished before the signal arrived")
        return trial
    if sig == signal.SIGTERM:
        saved = checkpoint_step(tmp)
        trial["checkpoint_step"] = saved
        if code != 128 + signal.SIGTERM or "stopped by SIGTERM" not in err or saved < seen:
            trial.update(ok=False, why=f"exit {code}, checkpoint at {saved}, stderr: {err.strip()[-300:]}")
            return trial
    resumed = subprocess.run(train_argv(tmp), capture_output=True, text=True)
    trial["resumed_from"] = int(m.group(1)) if (m := re.search(r"from step (\d+)", resumed.stdout)) else 0
    if resumed.returncode != 0:
        trial.update(ok=False, why=f"resume exit {resumed.returncode}: {resumed.stderr.strip()[-300:]}")
        return trial
    got = outcome(tmp)
    trial["ok"] = got == reference
    if not trial["ok"]:
        trial["why"] = "metrics differ from the uninterrupted run"
    return trial


def network_trial(tmp: Path, reference: dict) -> dict:
    """W&B online with no network (a closed local port as the server, an API key set): the run must
    fall back to offline within seconds, say so, and finish equal to the reference run."""
    env = os.environ | {"WANDB_BASE_URL": "http://127.0.0.1:9", "WANDB_API_KEY": "x" * 40, "WANDB_DIR": str(tmp)}
    env.pop("WANDB_MODE", None)
    argv = [a for a in train_argv(tmp) if a != "logger.mode=disabled"] + ["logger.mode=online"]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    trial = {"signal": "network loss (W&B online)", "exit_code": proc.returncode}
    trial["seconds"] = round(time.monotonic() - started, 1)
    said = "offline" in proc.stderr and "Traceback" not in proc.stderr
    trial["ok"] = proc.returncode == 0 and said and outcome(tmp) == reference
    if not trial["ok"]:
        trial["why"] = f"exit {proc.returncode}, stderr: {proc.stderr.strip()[-300:]}"
    return trial


def digest(folder: Path) -> dict[str, str]:
    """Every file under folder with the sha256 of its bytes (not run locks: they name their last holder)."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def bad_input_trial(tmp: Path, case: BadInput) -> dict:
    tmp.mkdir(parents=True, exist_ok=True)
    if case.setup:
        SETUPS[case.setup](tmp)
    before = digest(tmp)
    argv = [a.replace("{tmp}", str(tmp)) for a in case.argv]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=300)
    after = digest(tmp)
    damaged = sorted(k for k in before if after.get(k) != before[k]) if not case.succeeds else []
    message = proc.stderr.strip()
    checks = {
        ("exit 0" if case.succeeds else "non-zero exit"): (proc.returncode == 0) == case.succeeds,
        "no traceback": "Traceback" not in proc.stderr,
        "message names the problem": re.search(case.expect, message, re.S) is not None,
        "nothing saved was changed": not damaged,
    }
    return {
        "case": case.name,
        "exit_code": proc.returncode,
        "ok": all(checks.values()),
        "failed_checks": [k for k, v in checks.items() if not v],
        "message": message[-400:],
        "damaged": damaged,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=10, help="SIGKILL trials at random steps")
    ap.add_argument("--terms", type=int, default=5, help="SIGTERM trials at random steps")
    ap.add_argument("--sweeps", type=int, default=2, help="local two-run sweeps stopped (Ctrl-C, SIGTERM in turn)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/minrnn-faults"), help="scratch folder")
    ap.add_argument("--out", type=Path, default=ROOT / "results/reliability")
    args = ap.parse_args(argv)
    if min(args.kills, args.terms, args.sweeps) < 0:
        ap.error("--kills, --terms and --sweeps must be >= 0")
    rng = random.Random(args.seed)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    work = args.work / stamp
    reference = straight_run(work / "straight")
    trials = []
    for i, sig in enumerate([signal.SIGKILL] * args.kills + [signal.SIGTERM] * args.terms):
        t = kill_trial(work / f"trial{i}", reference, sig, rng.randrange(5, STEPS - 20))
        print(t, flush=True)
        trials.append(t)
    references = [reference, straight_run(work / "straight-s1", "seed=1")]
    for i in range(args.sweeps):
        sig, to_group = (signal.SIGINT, True) if i % 2 == 0 else (signal.SIGTERM, False)
        t = sweep_trial(work / f"sweep{i}", references, sig, to_group, rng.randrange(5, STEPS - 20))
        print(t, flush=True)
        trials.append(t)
    network = network_trial(work / "network", reference)
    print(network, flush=True)
    bad = []
    for i, case in enumerate(BAD_INPUTS):
        b = bad_input_trial(work / f"bad{i}", case)
        print({k: b[k] for k in ("case", "ok", "exit_code", "failed_checks")}, flush=True)
        bad.append(b)
    n_ok = sum(t["ok"] for t in trials)
    lines = [
        "# Fault injection",
        "",
        f"Generated by `python tests/fault_injection.py --kills {args.kills} "
        f"--terms {args.terms} --sweeps {args.sweeps} --seed {args.seed}` on {provenance()['device_name']}.",
        "",
        f"Training runs interrupted: {len(trials)} ({args.kills} SIGKILL, {args.terms} SIGTERM at random steps "
        f"of {STEPS}; {args.sweeps} local sweeps of two runs, stopped by Ctrl-C to the process group or SIGTERM "
        "to the parent, each with no traceback and no process left); resumed identically (final metrics and "
        f"every logged loss equal an uninterrupted run): {n_ok}/{len(trials)}.",
        "",
        "| signal | at step | resumed from | exit code | identical |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {t['signal']} | {t['interrupted_at']} | {t.get('resumed_from', '-')} | {t['exit_code']} | "
        f"{'yes' if t['ok'] else 'NO: ' + t.get('why', '')} |"
        for t in trials
    ]
    fell_back = "fell back to offline, said so, and trained to the same result"
    fell_back = fell_back if network["ok"] else "FAILED: " + network["why"]
    lines += [
        "",
        f"Network loss: W&B `logger.mode=online` with no reachable server: {fell_back} "
        f"({network['seconds']} s in all).",
        "",
        f"Bad inputs tried: {len(bad)}; handled (non-zero exit, one message, no traceback, nothing "
        f"saved changed): {sum(b['ok'] for b in bad)}/{len(bad)}.",
        "",
        "| input | exit code | handled | message (last line) |",
        "|---|---|---|---|",
    ]
    for b in bad:
        last = (b["message"].strip().splitlines() or [""])[0][:110].replace("|", "/")
        ok = "yes" if b["ok"] else "NO: " + ", ".join(b["failed_checks"])
        lines.append(f"| {b['case']} | {b['exit_code']} | {ok} | {last} |")
    config = vars(args) | {"work": str(args.work), "out": str(args.out)}
    record = {"config": config, "provenance": provenance(), "trials": trials, "network": network, "bad_inputs": bad}
    write_json_atomic(args.out / "faults.json", record)
    write_text_atomic(args.out / "faults.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if n_ok == len(trials) and network["ok"] and all(b["ok"] for b in bad) else 1


if __name__ == "__main__":
    sys.exit(main())
