"""Layer benchmark: MinGRU/MinLSTM against GRU/LSTM baselines, forward+backward (minrnn.bench.layers).

python scripts/bench_layers.py                       # T in 64 256 512 1024 4096, writes results/bench/
python scripts/bench_layers.py --lengths 64 --repeats 2 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.bench import layers


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    layers.add_arguments(ap)
    return cli.run(layers.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
