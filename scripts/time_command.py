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
import sys

from minrnn import cli
from minrnn.reports import timings


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    timings.add_arguments(ap)
    return cli.run(timings.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
