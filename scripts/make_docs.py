"""Regenerate the numbers in docs/ that come from results/ (minrnn/harness/doc_blocks.py).

python scripts/make_docs.py
"""

from __future__ import annotations

import sys

from minrnn.harness.doc_blocks import BLOCKS, regenerate


def main() -> int:
    try:
        changed = regenerate()
    except (OSError, ValueError, KeyError) as e:
        print(f"make_docs: error: {e}", file=sys.stderr)
        return 2
    for name in BLOCKS:
        print(f"{name}: {'rewritten' if name in changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
