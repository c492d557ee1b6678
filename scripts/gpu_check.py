"""``make gpu-check``: is the GPU path right on this machine? Minutes, nothing downloaded (minrnn.bench.gpu_check).

Runs in the Python you activated (your CUDA build of torch; nothing is installed): the backends against
float64 references, the fused scan over 2^31+ elements, a few steps of every Table 2 model, Figure 1's
layers. Writes <out>/<device>.{json,md} after every check; exit 0 all pass, 1 one fails, 2 without CUDA.

    python scripts/gpu_check.py                 # on the GPU machine
    python scripts/gpu_check.py --device cpu    # dry run
"""

from __future__ import annotations

import argparse
import importlib.util
import sys


def main(argv=None) -> int:
    if importlib.util.find_spec("torch") is None:  # before minrnn, which imports it: one line, not a traceback
        print(
            f"gpu_check: torch is not installed in this Python ({sys.executable}); "
            "activate the environment with your CUDA torch",
            file=sys.stderr,
        )
        return 2
    try:
        from minrnn import cli
        from minrnn.bench import gpu_check
    except ImportError as e:
        message = f"{e.name} is not importable from {sys.executable}; pip install -e '.[repro]'"
        print(f"gpu_check: {message}", file=sys.stderr)
        return 2
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    gpu_check.add_arguments(ap)
    return cli.run(gpu_check.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
