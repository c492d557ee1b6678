"""The speed card (minrnn.bench.speed_card): every minGRU/minLSTM implementation and what it replaces,
forward and backward over T and B, the Table 2 network's training step, and decoding tokens per second.

python scripts/speed_card.py                 # CPU, within a budget, writes results/bench/speed_card.*
python scripts/speed_card.py --scale gpu     # the GPU card (results/gpu/); without CUDA a dry run on CPU
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys


def main(argv=None) -> int:
    if importlib.util.find_spec("torch") is None:  # make gpu-speed-card runs in the Python you activated
        print(f"speed_card: torch is not installed in this Python ({sys.executable})", file=sys.stderr)
        return 2
    scale = argparse.ArgumentParser(add_help=False)
    scale.add_argument("--scale", default="cpu")
    import torch  # before minrnn: the dry run's Triton interpreter is chosen before triton is imported

    if scale.parse_known_args(argv)[0].scale == "gpu" and not torch.cuda.is_available():
        os.environ.setdefault("TRITON_INTERPRET", "1")
    from minrnn import cli
    from minrnn.bench import speed_card

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    speed_card.add_arguments(ap)
    return cli.run(speed_card.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
