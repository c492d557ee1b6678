"""Figures 1, 3 and 4 and a report, from the benchmark CSVs alone (minrnn.bench.efficiency).

python scripts/make_figure1_3_4.py --scale cpu        # results/efficiency/*_cpu.csv -> PNG, PDF, .md
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.bench import efficiency


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    efficiency.add_arguments(ap)
    return cli.run(efficiency.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
