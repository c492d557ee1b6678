"""Figure 1: training step time and peak memory against sequence length (minrnn.bench.training).

python scripts/bench_training.py                     # scale cpu: results/efficiency/training_cpu.csv
python scripts/bench_training.py --scale paper       # 100 timed steps per config, for a GPU
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.bench import training


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    training.add_arguments(ap)
    return cli.run(training.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
