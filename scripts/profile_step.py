"""Where a training step's time goes, per part of the network (minrnn.bench.profile_step).

python scripts/profile_step.py                       # T = 512 and 4096: results/efficiency/profile_cpu.*
python scripts/profile_step.py --lengths 64 --models minGRU --out /tmp/profile
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.bench import profile_step


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    profile_step.add_arguments(ap)
    return cli.run(profile_step.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
