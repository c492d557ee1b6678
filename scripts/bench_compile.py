"""trainer.compile: training steps per second, eager against torch.compile (minrnn.bench.compiled).

python scripts/bench_compile.py                      # results/efficiency/compile_cpu.{csv,json,md}
python scripts/bench_compile.py --experiments table2/mingru --steps 5 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.bench import compiled


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    compiled.add_arguments(ap)
    return cli.run(compiled.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
