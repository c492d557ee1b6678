"""Time a command and keep the measurement: the set-up and test times the docs quote come from here.

    python scripts/time_command.py make-test --what "install and the test suite" -- make test
    python scripts/time_command.py make-reproduce --cwd /tmp/fresh-clone -- make reproduce

Runs the command (its output goes through), then writes results/timings/<name>.json: the command, the
folder it ran in, wall seconds, its exit code, the load average before and after (other work on the
machine slows it), the machine and commit. docs/development.md's Times table is generated from these
files (make docs). A command that fails is recorded as failed, and this script exits with its code.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from minrnn.harness.records import provenance, write_json_atomic

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", help="the measurement's name: letters, digits and '-'")
    ap.add_argument("command", nargs="+", help="the command, after --")
    ap.add_argument("--what", default="", help="what the command does, for the docs")
    ap.add_argument("--cwd", type=Path, default=Path.cwd(), help="where to run it (a fresh clone, say)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "timings")
    args = ap.parse_args(argv)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", args.name):
        ap.error(f"name must be letters, digits and '-', got {args.name!r}")
    if not args.cwd.is_dir():
        ap.error(f"--cwd {args.cwd} is not a folder")
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        code = subprocess.run(args.command, cwd=args.cwd).returncode
    except OSError as e:
        print(f"time_command: error: cannot run {args.command[0]!r} ({e.strerror})", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    origin = provenance()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=args.cwd, capture_output=True, text=True).stdout.strip()
    record = {
        "name": args.name,
        "command": " ".join(args.command),
        "what": args.what,
        "cwd": str(args.cwd),
        "commit": commit or origin.get("git_commit"),
        "seconds": seconds,
        "exit_code": code,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
        "provenance": origin,
    }
    write_json_atomic(args.out / f"{args.name}.json", record)
    print(f"time_command: {args.name}: {seconds:.0f} s, exit {code} -> {args.out / (args.name + '.json')}")
    return code


if __name__ == "__main__":
    sys.exit(main())
