"""The subprocess of a benchmark grid (minrnn.bench.grid.run_job): ``python -m minrnn.bench.worker
module:function JOB`` measures one configuration with ``function(job)`` and prints its row."""

from __future__ import annotations

import importlib
import sys

from minrnn.bench.grid import worker_main


def main(argv: list[str]) -> int:
    module, _, name = argv[0].partition(":")
    return worker_main(getattr(importlib.import_module(module), name), argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
