"""The recall grid (docs/recall.md): MQAR x model x width x learning rate, one run after another, resumable.

Each run is one ``minrnn-train experiment=recall/<model> ...`` process with one thread; a run whose
result is already in results/ is skipped, one that fails is listed and the grid goes on; rerunning the
command resumes. Runs go in order of priority (every model at the first setting before the next), so a
grid cut short still compares every model. Exit 1 when a run failed.

    python scripts/run_recall_grid.py                      # the CPU grid (make reproduce-recall)
    python scripts/run_recall_grid.py --scale paper --widths 64 128 256 512 --lrs 1e-4 4.6e-4 2.2e-3 1e-2
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def presets() -> list[str]:
    """configs/experiment/recall/*.yaml, in the registry's model order (variants beside their model)."""
    from minrnn.harness import registry
    from minrnn.harness.config import CONFIGS

    names = [p.stem for p in (Path(CONFIGS) / "experiment" / "recall").glob("*.yaml")]
    order = registry.keys()
    return sorted(names, key=lambda n: (order.index(n.split("_")[0]) if n.split("_")[0] in order else 99, n))


MODELS = presets()
SETTINGS = {"cpu": [(64, 4), (128, 8)], "paper": [(64, 4), (128, 8), (256, 16), (512, 64)]}


def result_exists(results: Path, scale: str, model: str, width: int, lr: float, L: int, P: int, seed: int) -> bool:
    name, conv = model.removesuffix("_conv"), "-conv" if model.endswith("_conv") else ""
    folder = results / f"mqar/L{L}-P{P}/{scale}"
    return any(folder.glob(f"{name}{conv}-w{width}-lr{lr}-L2-s{seed}-*.json"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=SETTINGS, default="cpu")
    ap.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    ap.add_argument("--widths", type=int, nargs="+", default=[64, 16, 128, 32])
    ap.add_argument("--lrs", type=float, nargs="+", default=[3e-3, 1e-3, 1e-2])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--settings", nargs="+", default=None, help="L:P pairs, e.g. 64:4 128:8")
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    ap.add_argument("--set", dest="overrides", nargs="*", default=[], help="more overrides for every run")
    args = ap.parse_args(argv)
    settings = [tuple(map(int, s.split(":"))) for s in args.settings] if args.settings else SETTINGS[args.scale]
    train = Path(sys.executable).with_name("minrnn-train")
    grid = list(itertools.product(settings, args.lrs, args.widths, args.seeds, args.models))
    failed, done = [], 0
    for i, ((L, P), lr, width, seed, model) in enumerate(grid, 1):
        if result_exists(args.results, args.scale, model, width, lr, L, P, seed):
            done += 1
            continue
        overrides = [
            f"experiment=recall/{model}",
            f"scale={args.scale}",
            f"task.seq_len={L}",
            f"task.num_kv_pairs={P}",
            f"task.arch.dim={width}",
            f"trainer.lr={lr}",
            f"seed={seed}",
            f"paths.results={args.results}",
            "threads=1",
            "trainer.progress=false",
            *args.overrides,
        ]
        started = time.time()
        out = subprocess.run([str(train), *overrides], capture_output=True, text=True, errors="replace")
        line = (out.stdout.strip().splitlines() or [""])[-1] if out.returncode == 0 else out.stderr.strip()[-300:]
        print(f"[{i}/{len(grid)}] {time.time() - started:5.0f} s  {' '.join(overrides[:6])}: {line}", flush=True)
        if out.returncode != 0:
            failed.append(" ".join(overrides[:7]))
        else:
            done += 1
    print(f"{done} of {len(grid)} runs have results; {len(failed)} failed" + "".join(f"\n  {f}" for f in failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
