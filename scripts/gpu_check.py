"""``make gpu-check``: the GPU path on the user's CUDA machine, in a few minutes, nothing downloaded.

1. Every scan backend (triton, log) against ``sequential`` on CUDA: the generic scan and the MinGRU /
   MinLSTM layers in every variant, outputs and gradients, float32 and under bf16 autocast.
2. A few bf16 training steps of every Table 2 model at ``scale=paper`` (synthetic selective-copying
   data, nothing to download): the loss must fall; CUDA peak memory per model.
3. The layer benchmark at T = 512 and 4096, batch 64 (MinGRU/MinLSTM with triton and log, nn.GRU /
   nn.LSTM on cuDNN, the plain loops): Figure 1's speedups on this GPU beside the paper's T4 numbers.

Writes results/gpu/<device>.{md,json}. Without CUDA it says so in one line and exits 2. (No machine
of ours has a GPU: this script's CUDA path has not been run by us; its CPU-testable parts are.)

    python scripts/gpu_check.py
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import torch

from minrnn import MinGRU, MinLSTM
from minrnn.harness.records import provenance, write_json_atomic, write_text_atomic
from minrnn.harness.reporting import paper_reference
from minrnn.scan import scan

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {
    "minGRU": (MinGRU, {}),
    "minLSTM": (MinLSTM, {}),
    "minLSTM (normalised)": (MinLSTM, {"normalize_gates": True}),
}


def max_err(x: torch.Tensor, y: torch.Tensor) -> float:
    return (x.float() - y.float()).abs().max().item()


def backend_errors(device: torch.device) -> list[dict]:
    """Largest |backend - sequential| over outputs and gradients, float32 and bf16 autocast."""
    rows = []
    a, b = torch.rand(4, 1024, 256, device=device), torch.rand(4, 1024, 256, device=device) + 0.1  # log: b > 0
    ref = scan(a, b, backend="sequential")
    for backend in ("triton", "log"):
        rows.append(
            {"what": "scan", "backend": backend, "dtype": "float32", "error": max_err(scan(a, b, backend=backend), ref)}
        )
    x = torch.randn(4, 1024, 64, device=device)
    for name, (cls, kw) in VARIANTS.items():
        layer = cls(64, 128, scan="sequential", **kw).to(device)
        for dtype in ("float32", "bfloat16"):
            outs = {}
            for backend in ("sequential", "triton", "log"):
                layer.scan = backend
                xx = x.clone().requires_grad_()
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
                    h = layer(xx)
                (gx,) = torch.autograd.grad(h.float().square().mean(), xx)
                outs[backend] = (h, gx)
            for backend in ("triton", "log"):
                err = max(
                    max_err(outs[backend][0], outs["sequential"][0]), max_err(outs[backend][1], outs["sequential"][1])
                )
                rows.append({"what": name, "backend": backend, "dtype": dtype, "error": err})
    return rows


def training_steps(device: torch.device, steps: int) -> list[dict]:
    """``steps`` bf16 steps of each Table 2 preset at scale=paper; first and last logged loss, peak memory."""
    from hydra import compose, initialize_config_dir

    from minrnn.harness.config import CONFIGS, register_resolvers
    from minrnn.harness.train import run

    register_resolvers()
    rows = []
    for model in ("mingru", "minlstm", "mamba", "gru", "lstm", "transformer"):
        with tempfile.TemporaryDirectory() as tmp, initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
            overrides = f"experiment=table2/{model} scale=paper trainer.device=cuda trainer.amp=true "
            overrides += f"trainer.max_steps={steps} trainer.eval_every={steps} trainer.log_every=1 "
            overrides += "++task.eval_batches=1 logger.mode=disabled trainer.progress=false "
            cfg = compose("train", [*overrides.split(), f"paths.runs={tmp}/runs", f"paths.results={tmp}/results"])
            torch.cuda.reset_peak_memory_stats(device)
            started = time.perf_counter()
            run(cfg)
            seconds = time.perf_counter() - started
            log = (Path(tmp) / "runs" / cfg.run_name / "metrics.jsonl").read_text()
            losses = [float(v) for v in re.findall(r'"train_loss": ([0-9.eE+-]+)', log)]
            peak = torch.cuda.max_memory_allocated(device) / 2**30
            row = {"model": model, "first_loss": losses[0], "last_loss": losses[-1], "falls": losses[-1] < losses[0]}
            rows.append(row | {"peak_gib": peak, "seconds": seconds})
    return rows


def layer_bench(device: torch.device, lengths=(512, 4096), batch: int = 64, dim: int = 128) -> dict:
    """Forward + backward per layer (ms, median of 10, synchronised), as scripts/bench_layers.py on CPU."""
    from bench_layers import models  # scripts/ is on sys.path when this script runs

    layers, first = models(dim)
    out = {}
    for name, layer in layers.items():
        layer = layer.to(device)
        fn = first(layer) if name.startswith(("nn.", "GRU loop", "LSTM loop")) else layer
        for T in lengths:
            x = torch.randn(batch, T, dim, device=device)
            times = []
            for _ in range(11):  # the first is a warm-up (Triton compiles its kernels then)
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                fn(x).mean().backward()
                torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
            out[name, T] = 1000 * sorted(times[1:])[5]
    return out


def report(device_name: str, errors: list[dict], training: list[dict], bench: dict) -> str:
    paper = paper_reference(ROOT / "results", "figure1_training")["speedup_over_traditional"]
    lines = [f"## GPU check: {device_name}", "", "Generated by `make gpu-check` (scripts/gpu_check.py).", ""]
    lines += ["| layer / scan | backend | dtype | max abs error vs sequential |", "|---|---|---|---|"]
    lines += [f"| {r['what']} | {r['backend']} | {r['dtype']} | {r['error']:.1e} |" for r in errors]
    lines += [
        "",
        "| Table 2 model (scale=paper, bf16) | first loss | last loss | falls | peak GiB | s |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['model']} | {r['first_loss']:.3f} | {r['last_loss']:.3f} | {r['falls']} "
        f"| {r['peak_gib']:.2f} | {r['seconds']:.0f} |"
        for r in training
    ]
    lines += [
        "",
        "| T | minGRU vs GRU loop (paper, T4) | ours | minGRU vs nn.GRU (cuDNN) "
        "| minLSTM vs LSTM loop (paper, T4) | ours | minLSTM vs nn.LSTM |",
        "|---|---|---|---|---|---|---|",
    ]
    for T in (512, 4096):
        p = paper[str(T)]
        lines.append(
            f"| {T} | {p['minGRU_vs_GRU']}x | {bench['GRU loop (plain PyTorch)', T] / bench['MinGRU', T]:.0f}x "
            f"| {bench['nn.GRU (fused)', T] / bench['MinGRU', T]:.1f}x | {p['minLSTM_vs_LSTM']}x "
            f"| {bench['LSTM loop (plain PyTorch)', T] / bench['MinLSTM', T]:.0f}x "
            f"| {bench['nn.LSTM (fused)', T] / bench['MinLSTM', T]:.1f}x |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20, help="training steps per Table 2 model")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "gpu")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA device (torch.cuda.is_available() is False); run it on a machine with a GPU",
            file=sys.stderr,
        )
        return 2
    device = torch.device("cuda")
    name = torch.cuda.get_device_name(device)
    errors, training, bench = backend_errors(device), training_steps(device, args.steps), layer_bench(device)
    text = report(name, errors, training, bench)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    record = {
        "device": name,
        "errors": errors,
        "training": training,
        "layers_ms": {f"{k[0]} T={k[1]}": v for k, v in bench.items()},
        "provenance": provenance(device),
    }
    write_json_atomic(args.out / f"{slug}.json", record)
    write_text_atomic(args.out / f"{slug}.md", text)
    print(text)
    ok = all(r["falls"] for r in training) and all(
        r["error"] < (1e-3 if r["dtype"] == "float32" else 0.1) for r in errors
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
