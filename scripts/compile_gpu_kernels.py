"""Compile every Triton kernel variant for real NVIDIA GPUs on this machine, no GPU needed (make test-gpu-compile;
minrnn.bench.gpu_compile). Writes <out>/compile_triton-<version>.{json,md}; exits 1 when a variant fails,
2 on bad arguments.

    python scripts/compile_gpu_kernels.py                      # all variants, results/gpu/
    python scripts/compile_gpu_kernels.py --quick --capabilities 75 80 90
"""

from __future__ import annotations

import argparse
import sys

from minrnn import cli
from minrnn.bench import gpu_compile


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    gpu_compile.add_arguments(ap)
    return cli.run(gpu_compile.run, ap, argv)


if __name__ == "__main__":
    sys.exit(main())
