"""docs/deviations.md from configs/deviations.yaml: each way a scale=paper preset differs from the paper
or the authors' code, with what ours composes to and why.

    python scripts/make_deviations.py            # writes docs/deviations.md
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.reports import deviations


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    deviations.add_arguments(ap)
    return cli.run(deviations.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
