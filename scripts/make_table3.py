"""Table 3 (Section 4.2): D4RL-normalised scores of the decision models, from the run summaries in results/.

Cells are the presets experiment=table3/<model> task.env=<env> task.dataset=<dataset> in
results/d4rl/<env>-<dataset>/<scale>/, matched by config identity; mean ± std over seeds (n) beside
the paper's columns (its minLSTM/minGRU and the DT, DS4, DAaren, DMamba numbers it quotes).
The average row needs all nine datasets. ``--demo`` reads results/d4rl-demo/ instead: runs on
locally generated data (make reproduce-table3-demo, DEMO below), whose scores are NOT comparable
to Table 3 and are printed without the paper; they feed no claim.
Writes results/tables/table3_<scale>.{md,tex} (or table3_demo_<scale>).

    python scripts/make_table3.py --scale paper
    python scripts/make_table3.py --demo
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.reports.tables import TABLE3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    TABLE3.add_arguments(ap)
    return cli.run(TABLE3.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
