"""Section 3's parameter claims, counted on our modules: minGRU/minLSTM weights as a share of GRU/LSTM's.

    python scripts/param_counts.py --out results/core

Weights only (bias=False), d_h = alpha * d_x, printed beside the paper's percentages
(minrnn/reports/paper_reference.json); feeds the claims params-mingru and params-minlstm (make claims), which
hold at every scale. Writes --out/param_counts.{json,md}.
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.reports import params


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    params.add_arguments(ap)
    return cli.run(params.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
