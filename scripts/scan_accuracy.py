"""Float32 accuracy of each scan backend against float64, by length (minrnn.bench.scan_accuracy).

python scripts/scan_accuracy.py --out results/core
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.bench import scan_accuracy


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    scan_accuracy.add_arguments(ap)
    return cli.run(scan_accuracy.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
