"""Tables 1 and 2 (selective copying) from the run summaries in results/, beside the paper's numbers.

    python scripts/make_tables.py --scale cpu

Cells are the presets experiment=table1/<model> task.arch.depth=1,2,3 and experiment=table2/<model>,
matched to results/selective_copy/<scale>/*.json by config identity (minrnn.reports.runs);
test accuracy (%) of the best validation checkpoint, mean ± std over seeds (n). CPU-scale cells
(--scale cpu) feed the claims (make claims) table1-depth, table1-stability, table2-minrnns-solve and
table2-mamba-solves; the longer runs of experiment=claims/copy_minlstm_long decide the minLSTM cell
there. Table 2 lists those longer runs, and the ones with the v1 paper's normalised gates
(claims/copy_minlstm_norm_long), in rows of their own. Writes Markdown and LaTeX and the validation
curves to results/tables/.
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.reports.tables import TABLES_1_2


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    TABLES_1_2.add_arguments(ap)
    return cli.run(TABLES_1_2.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
