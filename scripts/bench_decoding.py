"""Decoding speed: tokens per second, fast and eager minGRU/minLSTM steps, nn.GRU/nn.LSTM, the Transformer's
KV cache (minrnn.bench.decoding).

python scripts/bench_decoding.py                     # scale=cpu and paper, batch 1 and 64: results/bench/decoding.*
python scripts/bench_decoding.py --scales cpu --batches 1 --new-tokens 32 --repeats 2 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.bench import decoding


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    decoding.add_arguments(ap)
    return cli.run(decoding.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
