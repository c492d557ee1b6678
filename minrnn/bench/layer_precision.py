"""The layers' precision policy, measured: bf16 and fp16 inputs, a float32 state, every backend.

Two ways to run in half precision: autocast (float32 weights and inputs, half matmul outputs: what
``trainer.precision=bf16|fp16`` does) and a model cast to half (half weights, inputs and outputs). In
both, every backend computes the recurrence from the half projections with a float32 state; a half
model's output is rounded to its dtype once per call. The error reported is the scan's own: the layer's
output against the same layer in float64 on the same inputs (a half model's weights and inputs as
rounded to half), as max |h - ref| / max |ref|: the rounding of the projections, the gates and the
state together. It does not grow with T when the state is float32. Step mode of a half
model rounds its state at every token, so its error is shown beside parallel mode's.
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

os.environ.setdefault("TRITON_INTERPRET", "1")  # the Triton backend on CPU tensors, as in the tests

import torch  # noqa: E402

from minrnn import MinGRU, MinLSTM  # noqa: E402
from minrnn.harness import records  # noqa: E402
from minrnn.harness.records import provenance, write_json_atomic, write_text_atomic  # noqa: E402

HALF = {"bf16": torch.bfloat16, "fp16": torch.float16}
TRITON_UP_TO = 4096  # Triton's interpreter loops in Python: longer sequences belong to make gpu-check


def reference(layer, x: torch.Tensor, inputs: str) -> torch.Tensor:
    """The same layer in float64 on the same inputs: a half model's weights and inputs as rounded."""
    if not inputs.startswith("autocast"):
        layer, x = copy.deepcopy(layer).to(HALF[inputs.split()[0]]), x.to(HALF[inputs.split()[0]])
    ref = copy.deepcopy(layer).double()
    ref.scan = "cpu"  # the float64 compiled loop, tested equal to the Python loop
    with torch.no_grad():
        return ref(x.double())


def run_layer(layer, x: torch.Tensor, inputs: str, backend: str, step: bool) -> torch.Tensor:
    layer.scan = backend
    if inputs.startswith("autocast"):
        with torch.autocast("cpu", dtype=HALF[inputs.split()[-1]]), torch.no_grad():
            return layer(x)
    half = layer.to(HALF[inputs.split()[0]])
    xh = x.to(HALF[inputs.split()[0]])
    with torch.no_grad():
        if not step:
            return half(xh)
        h, out = None, []
        for t in range(x.shape[1]):
            h = half.step(xh[:, t], h)
            out.append(h)
        return torch.stack(out, 1)


def add_arguments(ap) -> None:
    ap.add_argument("--lengths", type=int, nargs="+", default=[4096, 65536])
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--out", type=Path, default=Path("results/core"))
    records.add_replace_argument(ap)


def run(args, error) -> int:
    """Every case measured, then the table and its record written."""
    if min(args.lengths) < 1 or args.channels < 1:
        error("lengths and channels must be positive")
    config = records.args_config(args)
    records.check_replace(args.out / "layer_precision.json", config, args.replace)
    rows = [measure(*case, args.channels) for case in cases(args.lengths)]
    table = report(rows, args)
    record = {"benchmark": "layer_precision", "config": config, "rows": rows}
    write_json_atomic(args.out / "layer_precision.json", record | {"provenance": provenance()})
    write_text_atomic(args.out / "layer_precision.md", table)
    print("\n" + table)
    return 0


def cases(lengths: list[int]):
    """(layer class, inputs, backend, step mode, T) in the table's order; Triton and step mode up to TRITON_UP_TO."""
    for cls in (MinGRU, MinLSTM):
        for inputs in ("autocast bf16", "autocast fp16", "bf16 model", "fp16 model"):
            backends = [(b, False) for b in ("sequential", "log", "cpu", "triton")]
            backends += [("step mode", True)] if "model" in inputs else []
            for backend, step in backends:
                for T in lengths:
                    if not ((backend == "triton" and T > TRITON_UP_TO) or (step and T > TRITON_UP_TO)):
                        yield cls, inputs, backend, step, T


def measure(cls, inputs: str, backend: str, step: bool, T: int, channels: int) -> dict:
    """One row: the layer's error against its float64 self on x ~ N(0, 1) of length T."""
    torch.manual_seed(0)
    layer = cls(channels, channels)
    x = torch.randn(1, T, channels)
    started = time.perf_counter()
    ref = reference(layer, x, inputs)
    h = run_layer(layer, x, inputs, "cpu" if step else backend, step)
    dtype, h = str(h.dtype).removeprefix("torch."), h.double()
    err = float((h - ref).abs().max() / ref.abs().max())
    took = time.perf_counter() - started
    print(f"{cls.__name__:8s} {inputs:14s} {backend:10s} T={T:6d} {err:.1e} ({took:.1f} s)", flush=True)
    return {
        "layer": cls.__name__,
        "inputs": inputs,
        "backend": backend,
        "T": T,
        "error": err,
        "output_dtype": dtype,
        "finite": bool(torch.isfinite(h).all()),
    }


def report(rows: list[dict], args) -> str:
    """Markdown: one row per (layer, inputs, backend), one column per length."""
    lines = [
        "# Precision policy of the layers: half inputs, a float32 state",
        "",
        "Generated by `python scripts/layer_precision.py`: a layer of "
        f"{args.channels} -> {args.channels} channels, batch 1, x ~ N(0, 1), default initialisation. Error: "
        "max |h - ref| / max |ref|, where ref is the same layer in float64 on the same inputs (a half model's "
        "weights and inputs as rounded). Triton runs under its "
        f"interpreter up to T = {TRITON_UP_TO} (`make gpu-check` runs it on a GPU); step mode is a half "
        "model's token-by-token loop, which rounds its state at every token.",
        "",
        "| layer | inputs | backend | " + " | ".join(f"T = {T}" for T in args.lengths) + " | output |",
        "|---|---|---|" + "---|" * (len(args.lengths) + 1),
    ]
    seen = []
    for r in rows:
        key = (r["layer"], r["inputs"], r["backend"])
        if key in seen:
            continue
        seen.append(key)
        cells = []
        for T in args.lengths:
            hit = [x for x in rows if (x["layer"], x["inputs"], x["backend"], x["T"]) == (*key, T)]
            cells.append(f"{hit[0]['error']:.1e}" + ("" if hit[0]["finite"] else " (non-finite)") if hit else "-")
        lines.append(f"| {' | '.join(key)} | " + " | ".join(cells) + f" | {r['output_dtype']} |")
    return "\n".join(lines) + "\n"
