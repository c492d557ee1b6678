"""The layers' precision policy, measured: half inputs, a float32 state (minrnn.bench.layer_precision).

python scripts/layer_precision.py                       # writes results/core/layer_precision.{md,json}
python scripts/layer_precision.py --lengths 256 --out /tmp/precision
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.bench import layer_precision


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    layer_precision.add_arguments(ap)
    return cli.run(layer_precision.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
