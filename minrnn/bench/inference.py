"""Figures 3-4: inference cost against context length and batch size, for every model.

Inference = process a context of random tokens, then generate ``new_tokens`` greedily one at a time
with each model's recurrent or cached path (Appendix D.2): minGRU/minLSTM prefill in parallel mode
and continue in sequential mode (Algorithms 5/7) with a state of constant size, GRU/LSTM run their
recurrence over the context, Mamba prefills in parallel and steps with its SSM state, the
Transformer keeps a KV cache that grows with the context. Per configuration (fresh subprocess):
total time, prefill time, time per generated token, the bytes of the state carried between tokens,
and peak memory. Rerunning the same command resumes; ``scripts/make_figure1_3_4.py`` draws the figures.
"""

from __future__ import annotations

import statistics
import time

import torch

from minrnn.bench import ROOT, grid
from minrnn.harness import registry

# the models with a step mode (the plain loops and the log-space scan differ only in training)
MODELS = [next(iter(m.variants())) for m in registry.models()]  # each model as configured (no plain loops)
# on request (--models): the same model with ``step`` through torch.compile, which fuses the few dozen
# small ops of a token (Python and dispatch overhead at width 64) into a handful of kernels
COMPILED = " (compiled step)"
CHOICES = MODELS + [
    registry.names()[m] + COMPILED for m in registry.keys() if registry.models()[registry.keys().index(m)].paper
]
SCALES = {
    "paper": {
        "contexts": [64, 256, 1024, 4096, 16384],
        "batches": [8, 16, 32, 64],
        "new_tokens": 256,
        "repeats": 100,
        "budget": 600.0,
        "timeout": 3600.0,
    },
    "cpu": {
        "contexts": [64, 256, 1024, 4096],
        "batches": [8, 16, 32, 64],
        "new_tokens": 64,
        "repeats": 3,
        "budget": 15.0,
        "timeout": 300.0,
    },
}


@torch.no_grad()
def generate(model, context: torch.Tensor, new_tokens: int) -> tuple[float, float, int, int]:
    """Prefill then greedy steps; returns (prefill s, decode s, state bytes after prefill, after decode).
    CUDA runs asynchronously: each clock is read after the device has finished the work before it."""
    sync = torch.cuda.synchronize if context.device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    logits, state = model(context, return_state=True)
    tok = logits[:, -1].argmax(-1)
    sync()
    t1 = time.perf_counter()
    after_prefill = grid.state_bytes(state)
    for _ in range(new_tokens):
        logits, state = model.step(tok, state)
        tok = logits.argmax(-1)
    sync()
    return t1 - t0, time.perf_counter() - t1, after_prefill, grid.state_bytes(state)


def measure(job: dict) -> dict:
    """Time prefill + generation of job["model"] at (batch, context) (runs inside the worker)."""
    device = torch.device(job["device"])
    torch.manual_seed(0)
    if job["threads"]:
        torch.set_num_threads(job["threads"])
    model, vocab = grid.build_model(job["model"].removesuffix(COMPILED), job["scale"], job["overrides"], device)
    model.eval()
    if job["model"].endswith(COMPILED):  # compiled during the warm-up run, which repeat_timed leaves out
        model.step = torch.compile(model.step, fullgraph=True, dynamic=False)
    context = torch.randint(0, vocab, (job["batch"], job["context"]), device=device)
    parts = []
    with grid.MemoryProbe(device) as mem:
        times = grid.repeat_timed(
            lambda: parts.append(generate(model, context, job["new_tokens"])), device, job["repeats"], job["budget"]
        )
    timed = parts[1:]  # parts[0] is the warm-up
    prefill = statistics.median(p[0] for p in timed)
    decode = statistics.median(p[1] for p in timed)
    return {
        "status": "ok",
        "total_ms": 1000 * statistics.median(times),
        "prefill_ms": 1000 * prefill,
        "ms_per_token": 1000 * decode / max(job["new_tokens"], 1),
        "runs": len(times),
        "state_kib_prefill": timed[0][2] / 1024,
        "state_kib_end": timed[0][3] / 1024,
        "peak_mib": round(mem.mib, 1),
        "implementation": grid.describe(model, device),
    }


def add_arguments(ap) -> None:
    ap.add_argument("--contexts", type=int, nargs="+", help="context lengths (default: the scale's)")
    ap.add_argument("--batches", type=int, nargs="+", help="batch sizes (default: 8 16 32 64)")
    ap.add_argument("--new-tokens", type=int, help="tokens generated after the context (default: the scale's)")
    grid.add_grid_arguments(ap, SCALES, MODELS, ROOT / "results/efficiency")


def run(args, error) -> int:
    """Measure every (model, batch, context) not yet in ``<out>/inference_<scale>.csv``."""
    sc = SCALES[args.scale]
    settings = grid.grid_settings(error, args, SCALES, CHOICES)
    settings["new_tokens"] = sc["new_tokens"] if args.new_tokens is None else args.new_tokens
    contexts, batches = args.contexts or sc["contexts"], args.batches or sc["batches"]
    if min(contexts) < 1 or min(batches) < 1 or settings["new_tokens"] < 1:
        error("contexts, batches and new tokens must be positive")
    jobs = [{"model": m, "batch": b, "context": c, **settings} for b in batches for c in contexts for m in args.models]
    key = ("model", "batch", "context")
    return grid.measure_grid(args, f"inference_{args.scale}.csv", key, settings, jobs, measure, "context")
