"""Figure 5 (Appendix D.4): minLSTM training curves for several forget-gate bias initialisations.

Our copy of the paper does not name Figure 5's task, so it is drawn for each task of
minrnn.reports.runs.FIGURE5_TASKS that has runs: selective copying (experiment=claims/figure5_copy,
and table2/minlstm at the default bias 3), where convergence takes thousands of steps and so shows at
CPU scale, and ListOps (experiment=figure5/minlstm, and table4/lra_minlstm). Runs are matched by config
identity: validation loss and accuracy against the step, the mean over seeds, seeds faint. The tables
give each bias's best validation accuracy, the first step that reached 95% of it, and the mean
validation accuracy over the run (the area under the learning curve: how fast it learns); at CPU scale
they feed the claim figure5-forget-bias (make claims). Writes results/figures/figure5_<scale>.{png,pdf,md}.

    python scripts/make_figure5.py --scale cpu --biases 0 5
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.reports.figures import FIGURE5


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    FIGURE5.add_arguments(ap)
    return cli.run(FIGURE5.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
