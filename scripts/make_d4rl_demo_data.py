"""Write a small offline-RL dataset in D4RL's HDF5 format for the CPU demo of Table 3's pipeline.

The episodes come from a fixed random linear policy plus Gaussian noise at three levels, rolled out
in Gymnasium's MuJoCo environment (minrnn.tasks.d4rl.collect). It is NOT a D4RL dataset: scores trained on it
are not comparable to the paper's. Rewriting an existing file needs --force.

    python scripts/make_d4rl_demo_data.py --env halfcheetah --episodes 30 --out data/d4rl-demo
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minrnn.tasks.d4rl import GYM_IDS, collect
from minrnn.tasks.d4rl_data import write_d4rl

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", choices=sorted(GYM_IDS), default="halfcheetah")
    ap.add_argument("--episodes", type=int, default=30)
    ap.add_argument("--max-steps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "d4rl-demo")
    ap.add_argument("--force", action="store_true", help="overwrite an existing file")
    args = ap.parse_args(argv)
    if args.episodes < 1 or args.max_steps < 1:
        print("make_d4rl_demo_data: error: --episodes and --max-steps must be >= 1", file=sys.stderr)
        return 2
    path = args.out / f"{args.env}_demo.hdf5"
    if path.exists() and not args.force:
        print(f"{path} exists (use --force to rewrite it)")
        return 0
    episodes = collect(args.env, args.episodes, seed=args.seed, max_steps=args.max_steps)
    write_d4rl(path, episodes)
    returns = sorted(float(e.rewards.sum()) for e in episodes)
    print(
        f"wrote {path}: {len(episodes)} episodes, {sum(map(len, episodes))} transitions, "
        f"returns {returns[0]:.0f} .. {returns[-1]:.0f} (demo data, not D4RL)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
