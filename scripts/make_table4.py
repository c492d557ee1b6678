"""Table 4 (Appendix D): Chomsky-hierarchy, counting and Long Range Arena tasks, from results/.

    python scripts/make_table4.py --scale cpu

Cells are the presets experiment=table4/<model> task.problem=<problem> (results/chomsky/<problem>/)
and experiment=table4/lra_<model> [task=retrieval|gimage] (results/lra/<task>/), matched by config
identity; test accuracy of the best validation checkpoint, mean ± std over seeds (n), beside the
paper's rows (its minLSTM and the xLSTM paper's baselines it quotes), each labelled. Chomsky accuracy
is the authors' raw accuracy on lengths 40..256 after training on lengths up to 40. CPU-scale cells
(6,000 Chomsky steps against the paper's 500k, ListOps lengths 100-300) feed the claim table4-chomsky
(make claims), except where the 30,000-step runs of experiment=claims/chomsky_long_minlstm exist
(cycle_nav): those decide their task's cell of the claim. Writes results/tables/table4_<scale>.{md,tex}.
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.reports.tables import TABLE4


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    TABLE4.add_arguments(ap)
    return cli.run(TABLE4.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
