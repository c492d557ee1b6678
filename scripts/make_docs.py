"""Regenerate the numbers in docs/ that come from results/ (minrnn/reports/docs.py).

python scripts/make_docs.py
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.reports import docs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    docs.add_arguments(ap)
    return cli.run(docs.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
