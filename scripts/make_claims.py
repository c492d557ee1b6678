"""The paper's claims against our runs (minrnn/reports/claims/): one verdict per claim, computed
from results/ alone, for every scale that has results. Writes results/claims_<scale>.{md,json}.

    python scripts/make_claims.py            # every scale with results
    python scripts/make_claims.py --scale cpu
    python scripts/make_claims.py --longer-runs   # the sweeps of make claims-runs (claims/runs.yaml)
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.reports.claims import machinery


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    machinery.add_arguments(ap)
    return cli.run(machinery.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
