"""Figure 1: the time and peak memory of one training step against sequence length, for every model.

One training step = forward, cross-entropy loss over every position, backward (Section 4.1), at
batch 64, for the Table 2 network (3 layers, width 64) at expansion 1, every recurrent state the
width (``--set task.arch.expansion=6`` for Table 2's minGRU/minLSTM: results/efficiency/expansion6), plus the
paper's plain-PyTorch variants: the log-space scan (Listings 5, 8, 10) and GRU/LSTM as Python loops.
Each (model, length) runs in a fresh subprocess, all in one invocation, so the ratios compare like
with like. Rerunning the same command resumes; ``scripts/make_figure1_3_4.py`` draws the figure.
"""

from __future__ import annotations

import statistics

import torch

from minrnn.bench import ROOT, grid

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
    model, vocab = grid.build_model(job["model"], job["scale"], job["overrides"], device)
    x = torch.randint(0, vocab, (job["batch"], job["T"]), device=device)
    y = torch.randint(0, vocab, (job["batch"], job["T"]), device=device)
    step = grid.training_step(model, x, y)
    with grid.MemoryProbe(device) as mem:
        times = grid.repeat_timed(step, device, job["repeats"], job["budget"])
    return {
        "status": "ok",
        "ms_median": 1000 * statistics.median(times),
        "ms_min": 1000 * min(times),
        "runs": len(times),
        "peak_mib": round(mem.mib, 1),
        "params": sum(p.numel() for p in model.parameters()),
        "implementation": grid.describe(model, device),
    }


def add_arguments(ap) -> None:
    ap.add_argument("--lengths", type=int, nargs="+", help="sequence lengths (default: the scale's)")
    ap.add_argument("--batch", type=int, default=64)
    grid.add_grid_arguments(ap, SCALES, list(grid.MODELS), ROOT / "results/efficiency")


def run(args, error) -> int:
    """Measure every (model, length) not yet in ``<out>/training_<scale>.csv``."""
    settings = grid.grid_settings(error, args, SCALES, list(grid.MODELS)) | {"batch": args.batch}
    lengths = args.lengths or SCALES[args.scale]["lengths"]
    if min(lengths) < 1 or args.batch < 1:
        error("lengths and batch must be positive")
    jobs = [{"model": m, "T": T, **settings} for T in lengths for m in args.models]
    return grid.measure_grid(args, f"training_{args.scale}.csv", ("model", "T"), settings, jobs, measure, "T")
