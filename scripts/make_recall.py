"""The recall figure and table (docs/recall.md): MQAR accuracy against recurrent state size, per model.

    python scripts/make_recall.py --scale cpu

Reads the run summaries of ``make reproduce-recall`` (results/mqar/L<len>-P<pairs>/<scale>/), keeps the
runs whose identity is that of their recall preset composed now (others are listed as ignored), picks
for each (setting, model, width) the learning rate with the best validation accuracy averaged over its
seeds and reports the seeds' mean test accuracy there (the learning-rate sweep is part of the
protocol; minrnn.reports.recall.collect). Writes
results/recall/recall_<scale>.{md,json,png,pdf}.
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.reports import recall


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    recall.add_arguments(ap)
    return cli.run(recall.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
