"""Table 6 (Appendix D.3): the ListOps architecture ablation of minLSTM, from results/lra/listops/.

Cells are the presets experiment=table6/minlstm_{plain,conv,mlp} and table4/lra_minlstm (+ Conv +
MLP, Table 4's LRA setting), matched by config identity; test accuracy, mean ± std (n), beside the
paper's (v3 Appendix D.3, from minrnn/reports/paper_reference.json). CPU-scale cells (3000 steps,
lengths 100-300) feed the claim table6-ablation (make claims). Writes
results/tables/table6_<scale>.{md,tex}.

    python scripts/make_table6.py --scale cpu
"""

from __future__ import annotations

import argparse
import sys

from minrnn.reports import tables


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tables.TABLE6.add_arguments(ap)
    return tables.TABLE6.run(ap.parse_args(argv), ap.error)


if __name__ == "__main__":
    sys.exit(main())
