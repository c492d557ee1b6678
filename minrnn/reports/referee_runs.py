"""The pre-registered seed matrices run (results/preregistration/, issue #35): one at a time, resumable.

Each run is one ``minrnn-train`` process with one thread; a run whose summary (same config identity and
seed) is in results/ is skipped, one that fails is listed and the rest go on; a stopped run (Ctrl-C,
SIGTERM) saves its checkpoint, and rerunning the command resumes it. Most decisive verdicts first.
The runs and their order: minrnn.reports.preregistration. ``make referee-runs`` (scripts/run_preregistered.py).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from minrnn.reports.preregistration import PREREGISTRATION, command, load, plan, remaining_seconds
from minrnn.reports.runs import ROOT

DEFAULT_S = 600.0  # the estimate for an arm with no committed run


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h"


def add_arguments(ap) -> None:
    ap.add_argument("--file", type=Path, default=ROOT / PREREGISTRATION, help="the pre-registration")
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    ap.add_argument("--dry-run", action="store_true", help="list the runs still to do and their estimated time")


def run(args, error=None) -> int:
    """The runs still to do (--dry-run: listed with their estimates), one at a time; 2 on a bad pre-registration."""
    try:
        prereg = load(args.file)
        runs = plan(prereg, args.results.resolve())
    except ValueError as e:
        print(f"run_preregistered: error: {e}", file=sys.stderr)
        return 2
    todo = [r for r in runs if not r.done]
    total = remaining_seconds(runs, DEFAULT_S)
    print(
        f"{len(runs)} pre-registered runs, {len(runs) - len(todo)} done, {len(todo)} to run: "
        f"about {hours(total)} on one core (budget {prereg.budget_core_hours:g} core-hours)"
    )
    if args.dry_run:
        for r in todo:
            est = f"~{r.estimate_s:.0f} s" if r.estimate_s is not None else f"~{DEFAULT_S:.0f} s (no committed run)"
            print(f"  {r.verdict:16s} {r.arm:22s} seed {r.seed}  {est:>8s}  {r.run_name}")
        return 0
    return run_all(todo, prereg, args.results.resolve(), total)


def run_all(todo, prereg, results: Path, total: float) -> int:
    """Run each in turn; a stop signal goes to the running run (it checkpoints), then the loop ends."""
    train = Path(sys.executable).with_name("minrnn-train")
    stop, child = [], [None]

    def forward(signum, frame):
        stop.append(signum)
        if child[0] is not None and child[0].poll() is None:
            child[0].send_signal(signum)

    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, forward)
    failed, spent, estimated = [], 0.0, 0.0
    for k, r in enumerate(todo, 1):
        if stop:
            break
        started = time.time()
        child[0] = subprocess.Popen([str(train), *command(r, prereg, results)], cwd=ROOT)
        rc = child[0].wait()
        took = time.time() - started
        if stop:
            print(f"[{k}/{len(todo)}] {r.run_name}: stopped; rerun the command to resume it", flush=True)
            break
        est = r.estimate_s if r.estimate_s is not None else DEFAULT_S
        spent, estimated, total = spent + took, estimated + est, total - est
        pace = spent / estimated if estimated else 1.0  # this machine's speed against the committed runs'
        status = "done" if rc == 0 else f"FAILED (exit {rc})"
        print(f"[{k}/{len(todo)}] {r.run_name}: {status} in {took:.0f} s; ~{hours(total * pace)} left", flush=True)
        if rc != 0:
            failed.append(r.run_name)
    if failed:
        print(f"{len(failed)} failed (rerun to retry):" + "".join(f"\n  {f}" for f in failed))
    return 130 if stop else 1 if failed else 0
