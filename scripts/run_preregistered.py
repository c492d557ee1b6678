"""Run the pre-registered seed matrices (results/preregistration/, issue #35), one run at a time, resumable
(minrnn.reports.referee_runs).

    python scripts/run_preregistered.py --dry-run     # what would run, with the time estimate
    python scripts/run_preregistered.py               # make referee-runs
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.reports import referee_runs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    referee_runs.add_arguments(ap)
    return cli.run(referee_runs.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
