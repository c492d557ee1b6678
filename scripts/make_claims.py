"""The paper's claims against our runs (minrnn/harness/claims.py): one verdict per claim, computed
from results/ alone, for every scale that has results. Writes results/claims_<scale>.{md,json}.

    python scripts/make_claims.py            # every scale with results
    python scripts/make_claims.py --scale cpu
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minrnn.harness.claims import evaluate, markdown
from minrnn.harness.records import provenance, write_json_atomic, write_text_atomic


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=["cpu", "paper"], action="append", help="default: every scale with results")
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--out", type=Path, help="where to write (default: RESULTS)")
    args = ap.parse_args(argv)
    if not args.results.is_dir():
        print(f"make_claims: error: no results folder {args.results}", file=sys.stderr)
        return 2
    scales = args.scale or [s for s in ("cpu", "paper") if any(args.results.glob(f"**/{s}/*.json"))]
    if not scales:
        print(f"make_claims: error: no run summaries under {args.results}; run `make reproduce` first", file=sys.stderr)
        return 2
    out = args.out or args.results
    for scale in scales:
        rows = evaluate(args.results, scale)
        write_json_atomic(out / f"claims_{scale}.json", {"scale": scale, "claims": rows, "provenance": provenance()})
        text = markdown(rows, scale)
        write_text_atomic(out / f"claims_{scale}.md", text)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
