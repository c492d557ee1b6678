"""``make gpu-check`` (scripts/gpu_check.py): is the GPU path right on this machine? Minutes, nothing downloaded.

Runs in the Python you activated (your CUDA build of torch; nothing is installed). Each check is
saved as it finishes, and an error or an out-of-memory is a row of the report, not its end:

1. backends: ``triton`` (its loop and its chunked kernels, each pinned) and ``log``, the generic scan and
   the MinGRU/MinLSTM layers in every
   variant, outputs and input gradients, in float32 and under fp16 and bf16 autocast, against the
   ``sequential`` reference run in float64 with the same weights (TOLERANCES: how close, and why).
2. large input: the fused Triton scan over more than 2^31 elements (64-bit offsets), its last batch
   row against the reference, sized to the card's free memory (``large_input_size``).
3. training: a few steps of every Table 2 model at ``scale=paper`` with ``trainer.precision=auto``
   (synthetic selective-copying data): the loss must fall; the precision used and peak memory.
4. Figure 1's layers: forward + backward of MinGRU/MinLSTM with the Triton kernels and with the paper's
   parallel log-space scan, against nn.GRU/nn.LSTM (cuDNN) and the plain loops, beside the paper's T4.

Writes ``<out>/<device>.{json,md}`` (default results/gpu/) with the provenance a GPU result needs
(GPU, compute capability, CUDA, driver, cuDNN, torch, Triton). Exit 0 when every check passes, 1 when
one fails (a skipped row, e.g. bf16 on a P100 or the large input on a small card, says so and fails
nothing), 2 without a CUDA device (one line). ``--device cpu`` is the dry run: check 1 at the GPU
shape (Triton's interpreter at INTERPRETED_SHAPE), the others small (``scale=cpu``): the tests run it.

    python scripts/gpu_check.py                 # on the GPU machine
    python scripts/gpu_check.py --device cpu    # dry run
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from minrnn.bench import ROOT
from minrnn.bench.gpu_report import Report, fail, guarded, row
from minrnn.harness.records import add_replace_argument
from minrnn.reader import MAX_LOG, read_text

# Largest error allowed, relative to the largest magnitude of the float64 reference, per dtype:
# (outputs, input gradients). float32: the state is float32 in every backend, and the chunked
# log-space scan's worst case is about chunk x 87 x eps = 7e-4 relative (minrnn.ops.reference): 2e-3
# Under fp16/bf16 autocast the Linear outputs p (gates, candidates) are rounded to the half type
# before the recurrence. The references take the same rounded p (``_rounded_layer``) for the outputs
# AND the gradients: g() has a kink at 0 (derivative 1 above, sigmoid' = 1/4 below), and rounding x
# and W moves a few p across it, which changes dL/dp there by 3/4 whatever the kernel: against the
# unrounded float64 gradient every backend, the log scan included, is off by 2-5e-2 at the GPU shape
# (0.037-0.045 in fp16 at (8, 1024, 64, 256); measured on CPU autocast), over any bound that still
# catches a broken kernel. On the same rounded p, what is left is the backend's own error:
# outputs: 4 units u of the half type's rounding (u = 2^-11 fp16, 2^-8 bf16; 2^-9 and 2^-7 below)
# bound the log scan, which takes its logs of rounded values; the Triton kernel keeps a float32 state
# (~1e-7). The sequential loop keeps its state in the half type and is no reference there (minLSTM
# under bf16: ~1e-2, growing with T). Gradients: dL/dp rounded to the half type, and autocast's
# backward matmul dL/dx = dL/dp W in the half type with float32 accumulation: a few u relative to the
# products (measured 1.4u in both backends and dtypes at the GPU shape, 6u once for the log scan in
# bf16 at (2, 128, 64, 256)): 32u (1.56e-2 fp16, 0.125 bf16) catches a broken kernel, not rounding.
# The loss is the sum of squares, not the mean: the mean's gradient (2h / N, ~1e-6 at N = 2M) is
# subnormal in fp16 and loses its digits (0.03-0.045 of error); training scales its loss (GradScaler).
TOLERANCES = {"float32": (2e-3, 2e-3), "float16": (2e-3, 1.56e-2), "bfloat16": (7.8e-3, 0.125)}
SHAPE = (8, 1024, 64, 256)  # (B, T, C, H) of the backend check, on the GPU and (but Triton) in the dry run
INTERPRETED_SHAPE = (2, 128, 64, 256)  # Triton's interpreter in the dry run: B x T / 32, the same C, H
VARIANTS = {"minGRU": {}, "minLSTM": {}, "minLSTM (normalised)": {"normalize_gates": True}}


def relative_error(x, ref) -> float:
    return ((x.double() - ref).abs().max() / ref.abs().max().clamp_min(1e-30)).item()


def _rounded_layer(layer, x, dtype):
    """A float64 copy of ``layer`` whose Linear outputs are the ones autocast computes in ``dtype``
    (rounded) and whose gradient to x is the float64 Linear's: the exact recurrence, forward and
    backward, on the same rounded values a backend gets under autocast."""
    import copy

    import torch
    import torch.nn.functional as F

    with torch.autocast(x.device.type, dtype=dtype), torch.no_grad():
        outs = [lin(x.float()) for lin in layer._projections]
    exact = copy.deepcopy(layer).double()
    for lin, out in zip(exact._projections, outs, strict=True):

        def forward(xin, lin=lin, out=out):
            y = F.linear(xin, lin.weight, lin.bias)
            return out.double() + (y - y.detach())  # the rounded value; the gradient of the float64 Linear

        lin.forward = forward
    return exact


def rounded_reference(layer, x, dtype):
    """The float64 recurrence on the Linear outputs as autocast rounds them to ``dtype``."""
    import torch

    with torch.no_grad():
        return _rounded_layer(layer, x, dtype)(x.double())


# (backend, kernel): the triton backend's two kernels, the loop and the chunked scan (minrnn.ops.triton_chunked,
# which it takes by shape: at SHAPE the chunked one), each pinned in turn; the paper's log-space scan
KERNELS = (("triton", "loop"), ("triton", "chunked"), ("log", "-"))


@contextlib.contextmanager
def pinned(kernel: str):
    """The triton backend's kernel pinned for a row (minrnn.ops.triton_chunked.pinned); nothing for "-"."""
    if kernel == "-":
        yield
        return
    from minrnn.ops import triton_chunked

    with triton_chunked.pinned(kernel == "chunked"):
        yield


def shape(backend: str, device) -> tuple[int, int, int, int]:
    """(B, T, C, H) of a backend's rows: the GPU shape, except Triton's interpreter in the dry run
    (INTERPRETED_SHAPE: 50x faster there, the same kernels, channel blocks and per-element arithmetic)."""
    return INTERPRETED_SHAPE if backend == "triton" and device.type == "cpu" else SHAPE


def backend_errors(device, quick: bool) -> list[dict]:
    """Every backend against float64 references, in float32 and under fp16/bf16 autocast (TOLERANCES)."""
    import copy

    import torch

    from minrnn import MinGRU, MinLSTM
    from minrnn.scan import scan

    rows, inputs, references = [], {}, {}

    def data(size):  # the same inputs for every backend at a shape
        if size not in inputs:
            g = torch.Generator(device=device).manual_seed(0)
            B, T, C, H = size
            rand = lambda *s: torch.rand(*s, device=device, dtype=torch.float64, generator=g)  # noqa: E731
            a, b = rand(B, T, H) * 0.9 + 0.05, rand(B, T, H) + 0.1
            x = torch.randn(B, T, C, device=device, dtype=torch.float64, generator=g)
            inputs[size] = a, b, scan(a, b, backend="sequential"), x
        return inputs[size]

    for backend, kernel in KERNELS:
        a, b, ref, _ = data(shape(backend, device))
        fields = {"what": "scan", "backend": backend, "kernel": kernel, "dtype": "float32"}
        fields["shape"] = shape(backend, device)

        def error(a=a, b=b, ref=ref, backend=backend, kernel=kernel):
            with pinned(kernel):
                return {"output error": relative_error(scan(a.float(), b.float(), backend=backend), ref)}

        rows.append(row(fields, error))
    for name, kw in VARIANTS.items():
        cls = MinGRU if name == "minGRU" else MinLSTM
        layer = cls(SHAPE[2], SHAPE[3], scan="sequential", init_hidden_state=True, **kw).to(device)
        for dtype in ("float32", "float16", "bfloat16"):
            half = None if dtype == "float32" else getattr(torch, dtype)
            for backend, kernel in KERNELS:
                fields = {"what": name, "backend": backend, "kernel": kernel, "dtype": dtype}
                fields["shape"] = shape(backend, device)
                cuda = device.type == "cuda"
                if half is torch.bfloat16 and cuda and torch.cuda.get_device_capability(device) < (7, 0):
                    rows.append(fields | {"skipped": "no bf16 matrix products below compute capability 7.0"})
                    continue

                def one(backend=backend, kernel=kernel, half=half, size=fields["shape"], name=name, layer=layer):
                    x = data(size)[3]
                    if (name, size, half) not in references:  # float64, on the inputs the backend gets (rounded)
                        exact = copy.deepcopy(layer).double() if half is None else _rounded_layer(layer, x, half)
                        xx = x.clone().requires_grad_()
                        h = exact(xx)
                        references[name, size, half] = h.detach(), torch.autograd.grad(h.square().sum(), xx)[0]
                    h_ref, g_ref = references[name, size, half]
                    run = copy.deepcopy(layer)
                    run.scan = backend
                    xx = x.float().clone().requires_grad_()
                    with torch.autocast(device.type, dtype=half or torch.float32, enabled=half is not None):
                        with pinned(kernel):
                            h = run(xx)
                    with pinned(kernel):
                        (g,) = torch.autograd.grad(h.float().square().sum(), xx)  # a sum: see TOLERANCES
                    errors = relative_error(h.detach(), h_ref), relative_error(g, g_ref)
                    return dict(zip(("output error", "gradient error"), errors, strict=True))

                rows.append(row(fields, one))
    for r in rows:
        tol_out, tol_grad = TOLERANCES[r["dtype"]]
        r["tolerances"] = f"{tol_out:g} / {tol_grad:g}"
        if "output error" in r:
            r["ok"] = r["output error"] <= tol_out and r.get("gradient error", 0.0) <= tol_grad
        elif "skipped" in r:
            r["ok"] = None
    return rows


def large_input_size(free_bytes: float) -> tuple[int, str] | None:
    """H of the (4, 2^16, 2H) bf16 input that fits in ``free_bytes`` and what it covers, or None.

    p (bf16, 2 bytes) and the float32 states h (4 bytes) take B T H (2 * 2 + 4) bytes. H = 2^13 + 16
    puts both p and h past 2^31 elements (17.6 GiB); H = 2^12 + 16 only p (8.8 GiB: a 16 GB card)."""
    for H, covers in ((2**13 + 16, "p and h past 2^31 elements"), (2**12 + 16, "p past 2^31 elements")):
        if 4 * 2**16 * H * 8 * 1.1 <= free_bytes:
            return H, covers
    return None


def large_input(device, quick: bool) -> list[dict]:
    """The fused minGRU scan on bf16 Linear outputs of (B, T, 2H) with B*T*2H > 2^31 (64-bit offsets)."""
    import torch

    from minrnn.backends import triton_kernels

    if quick or device.type != "cuda":
        return [{"check": "large input", "ok": None, "skipped": "GPU only (needs 8.8 GiB)"}]
    free, _ = torch.cuda.mem_get_info(device)
    size = large_input_size(free)
    if size is None:
        return [{"check": "large input", "ok": None, "skipped": f"needs 8.8 GiB, {free / 2**30:.1f} free"}]
    B, T, H, covers = 4, 2**16, size[0], size[1]
    g = torch.Generator(device=device).manual_seed(0)
    p = torch.randn(B, T, 2 * H, device=device, dtype=torch.bfloat16, generator=g)
    h = triton_kernels(device).gate_scan(p, None, "gru", True)
    last = p[-1:, -512:].float()  # the last row's last 512 steps, from that row's state before them
    h0 = h[-1:, -513]
    k, cand = last.chunk(2, dim=-1)
    z, cand = torch.sigmoid(k), torch.where(cand >= 0, cand + 0.5, torch.sigmoid(cand))
    ref, state = [], h0
    for t in range(512):
        state = state + z[:, t] * (cand[:, t] - state)
        ref.append(state)
    err = (torch.stack(ref, 1) - h[-1:, -512:]).abs().max().item()
    return [{"check": "large input", "elements": p.numel(), "covers": covers, "error": err, "ok": err < 1e-4}]


def training_steps(device, quick: bool, steps: int) -> list[dict]:
    """``steps`` steps of each Table 2 preset at scale=paper (cpu when quick), precision auto."""
    import torch
    from hydra import compose, initialize_config_dir

    from minrnn.harness.config import CONFIGS, register_resolvers
    from minrnn.harness.train import run
    from minrnn.reports import runs as reporting

    register_resolvers()
    rows = []
    for model in reporting.MODELS:

        def one(model=model):
            with tempfile.TemporaryDirectory() as tmp, initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
                overrides = " ".join(reporting.preset("table2", model))
                overrides += f" scale={'cpu' if quick else 'paper'} trainer.device={device} "
                overrides += f"trainer.max_steps={steps} trainer.eval_every={steps} trainer.log_every=1 "
                overrides += "trainer.lr=3e-3 trainer.patience=0 ++task.eval_batches=1 logger.mode=disabled "
                overrides += "trainer.progress=false"
                paths = [f"paths.runs={tmp}/runs", f"paths.results={tmp}/results"]
                cfg = compose("train", [*overrides.split(), *paths])
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                started = time.perf_counter()
                summary = run(cfg)
                seconds = time.perf_counter() - started
                log = read_text(Path(tmp) / "runs" / cfg.run_name / "metrics.jsonl", MAX_LOG)
            losses = [float(v) for v in re.findall(r'"train_loss": ([0-9.eE+-]+)', log)]
            peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
            first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
            return [
                {
                    "model": model,
                    "precision": summary["metrics"]["precision"],
                    "first_loss": first,
                    "last_loss": last,
                    "peak_gib": peak,
                    "seconds": seconds,
                    "ok": last < first,
                }
            ]

        rows += guarded(f"training {model}", one)
    return rows


def layer_bench(device, quick: bool) -> list[dict]:
    """Figure 1's layers, forward + backward (ms, median), and the speedups beside the paper's T4 ones."""
    import torch

    from minrnn.backends import resolve
    from minrnn.bench.layers import callable_of, layer_models, time_fwd_bwd
    from minrnn.reports.runs import paper_reference

    paper = paper_reference("figure1_training")["speedup_over_traditional"]
    batch, dim, lengths, repeats = (2, 16, (64,), 1) if quick else (64, 128, (512, 4096), 10)
    mods = {k: m.to(device) for k, m in layer_models(dim).items() if k != "MinGRU projections only"}
    rows = []
    for T in lengths:
        x = torch.randn(batch, T, dim, device=device)
        t = time_fwd_bwd({k: (callable_of(k, m), list(m.parameters())) for k, m in mods.items()}, x, repeats)
        p = paper.get(str(T), {})
        for rnn, loop, fused in (("MinGRU", "GRU", "nn.GRU"), ("MinLSTM", "LSTM", "nn.LSTM")):
            key = "minGRU_vs_GRU" if rnn == "MinGRU" else "minLSTM_vs_LSTM"
            fused_scan = f"{resolve('auto', device)} kernel"  # the Triton loop on CUDA
            for scan_name, ours in ((fused_scan, rnn), ("parallel log-space scan", f"{rnn} (log-space scan)")):
                rows.append(
                    {
                        "T": T,
                        "layer": f"{rnn} ({scan_name})",
                        "ms": 1000 * t[ours],
                        f"vs {loop} loop": t[f"{loop} loop (plain PyTorch)"] / t[ours],
                        "paper (T4, vs loop)": p.get(key, "-"),
                        f"vs {fused} (cuDNN)": t[f"{fused} (fused)"] / t[ours],
                    }
                )
    return rows


def add_arguments(ap) -> None:
    ap.add_argument("--device", default=None, help="cuda, cuda:N, or cpu for the dry run (default: cuda)")
    ap.add_argument("--steps", type=int, default=None, help="training steps per Table 2 model (default 30; dry run 12)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "gpu")
    add_replace_argument(ap)


def run(args, error=None) -> int:
    """The four checks on ``args.device``, each saved as it finishes: 0 all pass, 1 one fails, 2 no CUDA."""
    import torch  # minrnn imported it; scripts/gpu_check.py says so in one line when it is missing

    quick = args.device == "cpu"
    if quick:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported: its kernels on CPU tensors
        device = torch.device("cpu")
    elif not torch.cuda.is_available():
        return fail(
            "no CUDA device (torch.cuda.is_available() is False); run it on a machine with a GPU, "
            "or `--device cpu` for the dry run"
        )
    else:
        try:
            device = torch.device(args.device or "cuda")
            torch.cuda.get_device_properties(device)
        except (RuntimeError, AssertionError, ValueError) as e:
            return fail(f"--device {args.device}: {str(e).strip().splitlines()[0]}")
    try:
        import triton  # noqa: F401
    except ImportError as e:
        return fail(f"{e.name} is not importable from {sys.executable}; run `pip install -e '.[repro,triton]'` first")
    torch.manual_seed(0)
    steps = args.steps or (12 if quick else 30)
    report = Report(args.out, device, quick, {"steps": steps, "quick": quick}, args.replace)
    print(f"gpu_check: {report.name}; writing {report.out / report.slug}.{{json,md}} after every check", flush=True)
    checks = [
        ("backends against the float64 reference", backend_errors, device, quick),
        ("large input (64-bit offsets)", large_input, device, quick),
        ("training steps (Table 2 models)", training_steps, device, quick, steps),
        ("Figure 1 layers", layer_bench, device, quick),
    ]
    for name, fn, *fn_args in checks:
        started = time.perf_counter()
        rows = guarded(name, fn, *fn_args)
        report.add(name, rows)
        bad, skipped = (sum(r.get("ok", True) is v for r in rows) for v in (False, None))
        seconds = time.perf_counter() - started
        print(f"  {name}: {len(rows)} rows, {bad} failing, {skipped} skipped ({seconds:.0f} s)", flush=True)
    print(report.markdown())
    return 0 if report.ok() else 1
