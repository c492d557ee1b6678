"""Figures 3-4: inference time and memory against context and batch (minrnn.bench.inference).

python scripts/bench_inference.py                    # scale cpu: results/efficiency/inference_cpu.csv
python scripts/bench_inference.py --models minGRU "minGRU (compiled step)" --out results/efficiency/compiled_step
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.bench import inference


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    inference.add_arguments(ap)
    return cli.run(inference.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
