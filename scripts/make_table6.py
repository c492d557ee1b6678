"""Table 6 (Appendix D.3): the ListOps architecture ablation of minLSTM, from results/lra/listops/.

    python scripts/make_table6.py --scale cpu

Cells are the presets experiment=table6/minlstm_{plain,conv,mlp} and table4/lra_minlstm (+ Conv +
MLP, Table 4's LRA setting), matched by config identity; test accuracy, mean ± std (n), beside the
paper's (v3 Appendix D.3, from minrnn/reports/paper_reference.json). CPU-scale cells (3000 steps,
lengths 100-300) feed the claim table6-ablation (make claims). Writes
results/tables/table6_<scale>.{md,tex}.
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.reports.tables import TABLE6


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    TABLE6.add_arguments(ap)
    return cli.run(TABLE6.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
