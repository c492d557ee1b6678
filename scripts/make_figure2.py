"""Figure 2 (Shakespeare): test-loss curves, one line per model, and the best loss and its step.

    python scripts/make_figure2.py --scale cpu

Runs are the presets experiment=figure2/<model> in results/shakespeare/<scale>/, matched by config
identity (the paper's curves are test loss, and this task evaluates on the test split). Writes the
plot (PNG and PDF) and a table beside the paper's numbers to results/figures/. At CPU scale (dim 64,
context 128, 600 steps) it feeds the claims (make claims) figure2-comparable and figure2-mamba-early;
figure2-transformer-slower is decided by the 2,000-step runs of experiment=claims/figure2_long_<model>.
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.reports.figures import FIGURE2


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    FIGURE2.add_arguments(ap)
    return cli.run(FIGURE2.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
