"""Figure 1: the time and peak memory of one training step against sequence length, for every model.

One training step = forward, cross-entropy loss over every position, backward (Section 4.1), at
batch 64, for the Table 2 models (3 layers, width 64; minGRU/minLSTM with expansion 6) plus the
paper's plain-PyTorch variants: the log-space scan (Listings 5, 8, 10) and GRU/LSTM as Python loops.
Each (model, length) runs in a fresh subprocess, all in one invocation, so the ratios compare like
with like. Rerunning the same command resumes; ``scripts/plot_efficiency.py`` draws the figure.

    python scripts/bench_training.py                     # scale cpu: results/efficiency/training_cpu.csv
    python scripts/bench_training.py --scale paper       # 100 timed steps per config, for a GPU
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.bench_grid import (  # noqa: E402,E501
    MODELS,
    Grid,
    MemoryProbe,
    SettingsMismatch,
    build_model,
    describe,
    memory_method,
    repeat_timed,
    run_grid,
    worker_main,
)

SCALES = {  # the paper averaged 100 runs; here a few, within a time budget per configuration
    "paper": {"lengths": [64, 128, 256, 512, 1024, 2048, 4096], "repeats": 100, "budget": 600.0, "timeout": 3600.0},
    "cpu": {"lengths": [64, 128, 256, 512, 1024, 2048, 4096], "repeats": 3, "budget": 20.0, "timeout": 300.0},
}


def measure(job: dict) -> dict:
    """Time one training step of job["model"] at length job["T"] (runs inside the worker)."""
    device = torch.device(job["device"])
    torch.manual_seed(0)
    if job["threads"]:
        torch.set_num_threads(job["threads"])
    model, vocab = build_model(job["model"], job["scale"], job["overrides"], device)
    model.train()
    params = list(model.parameters())
    x = torch.randint(0, vocab, (job["batch"], job["T"]), device=device)
    y = torch.randint(0, vocab, (job["batch"], job["T"]), device=device)

    def step():
        for p in params:
            p.grad = None
        F.cross_entropy(model(x).flatten(0, 1), y.flatten()).backward()

    with MemoryProbe(device) as mem:
        times = repeat_timed(step, device, job["repeats"], job["budget"])
    return {"status": "ok", "ms_median": 1000 * statistics.median(times), "ms_min": 1000 * min(times),
            "runs": len(times), "peak_mib": round(mem.mib, 1), "params": sum(p.numel() for p in params),
            "implementation": describe(model, device)}  # fmt: skip


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker_main(measure, argv[1:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=SCALES, default="cpu")
    ap.add_argument("--models", nargs="+", default=list(MODELS), metavar="MODEL", help=", ".join(MODELS))
    ap.add_argument("--lengths", type=int, nargs="+", help="sequence lengths (default: the scale's)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, help="timed steps per configuration (default: the scale's)")
    ap.add_argument("--budget", type=float, help="seconds of timed steps per configuration before stopping early")
    ap.add_argument("--timeout", type=float, help="seconds before a configuration is abandoned as too slow")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--set", dest="overrides", nargs="*", default=[], help="Hydra overrides, e.g. task.arch.dim=32")
    ap.add_argument("--out", type=Path, default=ROOT / "results/efficiency")
    ap.add_argument("--fresh", action="store_true", help="discard rows already measured with these settings")
    ap.add_argument("--in-process", action="store_true", help="no subprocess per configuration (no memory)")
    args = ap.parse_args(argv)
    sc = SCALES[args.scale]
    lengths, repeats = args.lengths or sc["lengths"], args.repeats or sc["repeats"]
    budget, timeout = args.budget or sc["budget"], args.timeout or sc["timeout"]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown or min(lengths) < 1 or args.batch < 1 or repeats < 1:
        ap.error(f"unknown models {unknown}" if unknown else "lengths, batch and repeats must be positive")
    settings = {"scale": args.scale, "batch": args.batch, "repeats": repeats, "budget": budget, "device": args.device,
                "threads": args.threads or torch.get_num_threads(), "overrides": args.overrides,
                "memory": memory_method(args.device, not args.in_process)}  # fmt: skip
    try:
        grid = Grid(args.out / f"training_{args.scale}.csv", ("model", "T"), settings, args.device, args.fresh)
    except SettingsMismatch as e:
        print(f"bench_training: error: {e}", file=sys.stderr)
        return 2
    jobs = [{"model": m, "T": T, "batch": args.batch, "scale": args.scale, "device": args.device,
             "threads": settings["threads"], "repeats": repeats, "budget": budget, "overrides": args.overrides}
            for T in lengths for m in args.models]  # fmt: skip
    run_grid(grid, jobs, Path(__file__), timeout, not args.in_process, measure, grows="T")
    print(f"wrote {grid.csv_path}; plot with: python scripts/plot_efficiency.py --scale {args.scale}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
