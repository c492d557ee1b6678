"""Rerun a committed run from its stored config and seed in a scratch folder; compare with its metrics.

    python scripts/replay.py results/mqar/L64-P4/cpu/mingru-w32-lr0.003-L2-s0-3b1958de.json
    make replay RUN=results/...json

Exit 0 when every metric but wall-clock times equals the committed one (bit-exact), 1 when one differs
(the report names each metric and each version or machine fact that differs), 2 on a bad argument.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from minrnn.harness.replay import replay


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a committed run summary under results/")
    ap.add_argument("--scratch", type=Path, help="where the replay trains (default: a temporary folder)")
    args = ap.parse_args(argv)
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="minrnn-replay-"))
    try:
        result = replay(args.run, scratch)
    except (ValueError, OSError) as e:
        print(f"replay: error: {e}", file=sys.stderr)
        return 2
    print(result.report())
    return 0 if result.exact else 1


if __name__ == "__main__":
    sys.exit(main())
