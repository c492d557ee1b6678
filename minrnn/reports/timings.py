"""Time a command and keep the measurement (scripts/time_command.py): the set-up and test times the docs
quote come from here. results/timings/<name>.json holds the command, the folder it ran in, wall seconds,
its exit code, the load average before and after (other work on the machine slows it), the machine and
commit; docs/development.md's Times table is made from these files (minrnn.reports.docs.timings).
A timing is never written over by a timing of another config (command, kind of folder, conditions):
that is refused before the command runs unless --replace is given (minrnn.harness.records.same_config).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from minrnn.files import write_json
from minrnn.harness.records import provenance, same_config
from minrnn.reader import read_json
from minrnn.reports.runs import ROOT


def add_arguments(ap) -> None:
    ap.add_argument("name", help="the measurement's name: letters, digits and '-'")
    ap.add_argument("command", nargs="+", help="the command, after --")
    ap.add_argument("--what", default="", help="what the command does, for the docs")
    ap.add_argument("--cwd", type=Path, default=Path.cwd(), help="where to run it (a fresh clone, say)")
    ap.add_argument("--conditions", default="", help="what else ran on the machine: 'quiet', 'loaded: 2 x yes' ...")
    ap.add_argument("--replace", action="store_true", help="write over a timing of another config under this name")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "timings")


CONFIG = ("command", "cwd_kind", "conditions")  # what makes two timings the same measurement


def cwd_kind(folder: Path) -> str:
    """'this checkout' (the repository this code runs from), 'a fresh clone' (a git clone with nothing built
    or changed in it: no untracked or ignored file), 'a used clone', or 'another folder'."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, errors="replace"
        ).stdout.strip()

    if folder.resolve() == ROOT.resolve():
        return "this checkout"
    if git("rev-parse", "--show-toplevel") != str(folder.resolve()):
        return "another folder"
    return "a used clone" if git("status", "--porcelain", "--ignored") else "a fresh clone"


def config_of(timing) -> dict:
    """The keys of CONFIG a saved timing holds (a record that is not a JSON object: itself, another config)."""
    return {k: timing[k] for k in CONFIG if k in timing} if isinstance(timing, dict) else timing


def record(args, kind: str, seconds: float, code: int, load_before: float) -> dict:
    """The measurement as committed: what ran, where, how long, and on what machine at which commit."""
    origin = provenance()
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=args.cwd, capture_output=True, text=True, errors="replace"
    ).stdout.strip()
    return {
        "name": args.name,
        "command": shlex.join(args.command),
        "what": args.what,
        "cwd": str(args.cwd),
        "cwd_kind": kind,
        "conditions": args.conditions,
        "commit": commit or origin.get("git_commit"),
        "seconds": seconds,
        "exit_code": code,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
        "provenance": origin,
    }


def run(args, error) -> int:
    """Run the command (its output goes through) and write its record; exit with the command's code."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", args.name):
        error(f"name must be letters, digits and '-', got {args.name!r}")
    if not args.cwd.is_dir():
        error(f"--cwd {args.cwd} is not a folder")
    kind, path = cwd_kind(args.cwd), args.out / f"{args.name}.json"
    mine = {"command": shlex.join(args.command), "cwd_kind": kind, "conditions": args.conditions}
    earlier = same_config(  # before the command runs: an old timing lacking these keys is another config
        path, mine, lambda p: config_of(read_json(p)), args.replace, "a timing of another config"
    )
    if earlier != "new":
        why = "same config" if earlier == "same" else "--replace"
        print(f"time_command: {args.name}: replaces the timing there ({why})")
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        code = subprocess.run(args.command, cwd=args.cwd).returncode
    except OSError as e:
        print(f"time_command: error: cannot run {args.command[0]!r} ({e.strerror})", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    write_json(path, record(args, kind, seconds, code, load_before))
    print(f"time_command: {args.name}: {seconds:.0f} s, exit {code} -> {path}")
    return code
