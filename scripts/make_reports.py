"""make reproduce's reports in one process: parameter counts, Tables 1-4 and 6, Figure 2's table and the
claims, from the committed runs in results/ (minrnn/reports/reproduce.py).

    python scripts/make_reports.py --scale cpu --out outputs/reproduce
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.reports import reproduce


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    reproduce.add_arguments(ap)
    return cli.run(reproduce.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
