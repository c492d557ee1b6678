"""A resumable benchmark grid: one fresh subprocess per configuration, each row saved as it arrives.

Used by minrnn.bench.training (Figure 1), minrnn.bench.inference (Figures 3-4) and
minrnn.bench.compiled (trainer.compile). A fresh process per
configuration is what makes CPU peak memory measurable (``ru_maxrss`` is a lifetime high-water
mark; tracemalloc does not see torch's allocations), and it isolates a configuration that runs
out of memory or time. Rows go to a CSV rewritten atomically after every configuration, beside a
JSON file with the settings and provenance; rerunning the same command skips what is already
measured, and refuses to mix rows measured with different settings.
"""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from minrnn.harness import registry
from minrnn.harness.records import OtherConfig, provenance, same_config, write_json_atomic, write_text_atomic
from minrnn.reader import Field, Record, read_csv, read_json

MARK = "BENCH_RESULT "  # the worker's last stdout line: MARK + JSON


class SettingsMismatch(OtherConfig, RuntimeError):
    """A grid's CSV holds rows measured with other settings (minrnn.harness.records.same_config)."""


def current_rss() -> int:
    """Resident set size now, in bytes (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def peak_rss() -> int:
    """The process's lifetime peak resident set size, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class MemoryProbe:
    """Peak memory of what runs inside ``with``: CUDA max_memory_allocated above the start, or on CPU
    the process's peak RSS above its RSS at the start (valid in a fresh process per configuration)."""

    def __init__(self, device: torch.device):
        self.device = device

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
        else:
            self.start = current_rss()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) - self.start
        else:
            self.peak = max(peak_rss() - self.start, 0)
        self.mib = self.peak / 2**20


def add_grid_arguments(ap, scales: dict, models: list[str], default_out: Path) -> None:
    """The options both benchmarks share: scale, models, repetitions, device, output, resumption."""
    ap.add_argument("--scale", choices=scales, default="cpu")
    ap.add_argument("--models", nargs="+", default=list(models), metavar="MODEL", help=", ".join(models))
    ap.add_argument("--repeats", type=int, help="timed runs per configuration (default: the scale's)")
    ap.add_argument("--budget", type=float, help="seconds of timed runs per configuration before stopping early")
    ap.add_argument("--timeout", type=float, help="seconds before a configuration is abandoned as too slow")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--set", dest="overrides", nargs="*", default=[], help="Hydra overrides, e.g. task.arch.dim=32")
    ap.add_argument("--out", type=Path, default=default_out)
    ap.add_argument("--fresh", action="store_true", help="discard rows already measured with these settings")
    ap.add_argument("--in-process", action="store_true", help="no subprocess per configuration (no memory)")


def grid_settings(error, args, scales: dict, models: list[str]) -> dict:
    """The shared settings with the scale's defaults filled in; bad values end in ``error`` (ap.error)."""
    sc = scales[args.scale]
    repeats, budget = args.repeats or sc["repeats"], args.budget or sc["budget"]
    unknown = [m for m in args.models if m not in models]
    if unknown:
        error(f"unknown models {unknown}; choose from {', '.join(models)}")
    if repeats < 1 or budget <= 0 or (args.timeout is not None and args.timeout <= 0):
        error("repeats, budget and timeout must be positive")
    return {
        "scale": args.scale,
        "repeats": repeats,
        "budget": budget,
        "timeout": args.timeout or sc["timeout"],
        "device": args.device,
        "threads": args.threads or torch.get_num_threads(),
        "overrides": args.overrides,
        "memory": memory_method(args.device, not args.in_process),
        "fixed_overrides": BENCH_OVERRIDES,
    }


def memory_method(device: str, isolate: bool) -> str:
    """How MemoryProbe measures, as recorded beside the results."""
    if not isolate:
        return "none (in-process)"
    return "cuda max_memory_allocated" if device.startswith("cuda") else "peak RSS above start, fresh process"


def repeat_timed(fn, device: torch.device, repeats: int, budget: float) -> list[float]:
    """One warm-up call, then up to ``repeats`` timed calls (at least one) within ``budget`` seconds."""
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    fn()
    sync()
    times, started = [], time.perf_counter()
    while len(times) < repeats and (not times or time.perf_counter() - started < budget):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return times


def training_step(model, x: torch.Tensor, y: torch.Tensor):
    """Figure 1's training step as a function: forward, cross-entropy over every position, backward."""
    params = list(model.parameters())
    model.train()

    def step():
        for p in params:
            p.grad = None
        torch.nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten()).backward()

    return step


def state_bytes(state) -> int:
    """Bytes held by the tensors of a (nested) recurrent state or KV cache."""
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, (list, tuple)):
        return sum(state_bytes(s) for s in state)
    if isinstance(state, dict):
        return sum(state_bytes(s) for s in state.values())
    return 0


def worker_main(measure, job_json: str) -> int:
    """Entry of the subprocess (minrnn.bench.worker): measure one configuration and print MARK + JSON."""
    job = json.loads(job_json)
    try:
        row = measure(job)
    except torch.OutOfMemoryError:
        row = {"status": "oom"}
    except RuntimeError as e:
        if "out of memory" not in str(e).lower() and "can't allocate" not in str(e).lower():
            raise
        row = {"status": "oom"}
    print(MARK + json.dumps(row), flush=True)
    return 0


# the ``.json`` sidecar of a grid's CSV (Grid.add)
GRID_META = Record(
    {"settings": Field(dict), "key": Field(list, items=Field(str)), "sessions": Field(list, items=Field(dict))}
)


class Grid:
    """Rows of one benchmark in ``csv_path`` (+ ``.json`` sidecar), keyed by ``key`` columns."""

    def __init__(self, csv_path: Path, key: tuple[str, ...], settings: dict, device: str, fresh: bool = False):
        self.csv_path, self.key, self.settings = Path(csv_path), key, settings
        self.meta_path = self.csv_path.with_suffix(".json")
        self.rows: list[dict] = []
        meta = {}
        if not fresh and self.csv_path.exists():
            meta = read_json(self.meta_path, GRID_META) if self.meta_path.exists() else {}
            try:  # a CSV without its sidecar holds rows of unknown settings: refused as well
                same_config(
                    self.csv_path,
                    settings,
                    lambda _: meta.get("settings"),
                    what="rows measured with other settings",
                    flag="--fresh",
                )
            except OtherConfig as e:
                raise SettingsMismatch(str(e)) from None
            self.rows = read_csv(self.csv_path)
        self.sessions = list(meta.get("sessions", [])) if self.rows else []
        self.sessions.append(provenance(device))

    def _k(self, row: dict) -> tuple[str, ...]:
        return tuple(str(row[k]) for k in self.key)

    def done(self, job: dict) -> bool:
        return any(self._k(r) == self._k(job) and r["status"] != "error" for r in self.rows)

    def add(self, row: dict) -> None:
        self.rows = [r for r in self.rows if self._k(r) != self._k(row)] + [row]
        fields = list(dict.fromkeys(k for r in self.rows for k in r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        write_text_atomic(self.csv_path, buf.getvalue())
        write_json_atomic(self.meta_path, {"settings": self.settings, "key": list(self.key), "sessions": self.sessions})


def run_job(measure, job: dict, timeout: float) -> dict:
    """Run ``measure(job)`` in a fresh interpreter (minrnn.bench.worker); status ok/oom/timeout/error."""
    cmd = [sys.executable, "-m", "minrnn.bench.worker", f"{measure.__module__}:{measure.__name__}", json.dumps(job)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode < 0 and not lines:  # killed by a signal: on Linux, SIGKILL here is the OOM killer
        return {"status": "oom", "error": f"worker killed by signal {-proc.returncode}"}
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": "error", "error": tail[:300]}
    return json.loads(lines[-1][len(MARK) :])


def run_grid(grid: Grid, jobs: list[dict], measure, timeout: float, isolate: bool, grows: str, log=print) -> None:
    """Measure every job not yet in the grid. Once a configuration times out or runs out of memory at
    some value of ``grows`` (sequence or context length), its larger values are recorded as skipped."""
    from tqdm import tqdm

    def group(row):  # the configuration without its length
        return tuple(str(row[k]) for k in grid.key if k != grows)

    failed: dict[tuple, float] = {}
    for r in grid.rows:
        if r["status"] in ("timeout", "oom"):
            failed[group(r)] = min(failed.get(group(r), float("inf")), float(r[grows]))
    bar = tqdm(jobs, desc=grid.csv_path.stem, unit="config", disable=not sys.stderr.isatty())
    for job in bar:
        if grid.done(job):
            continue
        if job[grows] > failed.get(group(job), float("inf")):
            row = {"status": "skipped"}
        else:
            load = os.getloadavg()[0]  # 1-min load average; includes this benchmark's previous config
            row = run_job(measure, job, timeout) if isolate else measure(job)
            row["load_before"] = round(load, 2)
        row = {**{k: job[k] for k in grid.key}, **row, "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())}
        if row["status"] in ("timeout", "oom"):
            failed[group(job)] = min(failed.get(group(job), float("inf")), job[grows])
        grid.add(row)
        shown = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in row.items() if k not in grid.key}
        log(" ".join(f"{k}={job[k]}" for k in grid.key) + ": " + " ".join(f"{k}={v}" for k, v in shown.items()))


def measure_grid(args, name: str, key: tuple[str, ...], settings: dict, jobs: list[dict], measure, grows: str) -> int:
    """Figure 1's or Figures 3-4's grid: ``jobs`` measured into ``args.out / name`` (resuming), 2 when
    the file holds rows measured with other settings."""
    try:
        grid = Grid(args.out / name, key, settings, args.device, args.fresh)
    except SettingsMismatch as e:
        print(f"bench_{name.split('_')[0]}: error: {e}", file=sys.stderr)
        return 2
    run_grid(grid, jobs, measure, settings["timeout"], not args.in_process, grows=grows)
    print(f"wrote {grid.csv_path}; plot with: python scripts/make_figure1_3_4.py --scale {args.scale}")
    return 0


# The models both benchmarks compare: every model of the registry with its benchmark variants (the
# paper's plain-PyTorch variants beside the defaults), each a Hydra model config plus overrides, in the
# Table 2 configuration (selective copying's 3-layer, width-64 architecture at expansion 1: BENCH_OVERRIDES).
MODELS = registry.benchmark_variants()


def describe(model, device: torch.device) -> str:
    """What actually runs: the recurrent layer and its scan backend or torch.nn/loop implementation."""
    from minrnn.backends import resolve

    if not hasattr(model, "blocks") or not hasattr(model.blocks[0], "rnn"):
        return getattr(model, "implementation", type(model).__name__)
    rnn = model.blocks[0].rnn
    if not hasattr(rnn, "scan"):
        return f"{type(rnn).__name__} impl={getattr(rnn, 'impl', '?')}"
    how = f"scan={resolve(rnn.scan, device, not getattr(rnn, 'log_space', True))}"
    return f"{type(rnn).__name__} {how}"


# Every model at the same width and hidden size (expansion 1: minGRU/minLSTM keep a state of the
# width, as GRU/LSTM do; Table 2 trains them with expansion 6, `--set task.arch.expansion=6`).
# Dropout off while timing: it changes no cost that matters here, and with dropout torch's CPU
# attention falls back from the fused (flash) kernel to materialising the T x T matrix.
BENCH_OVERRIDES = ["task.arch.expansion=1", "task.arch.dropout=0", "task.arch.rnn_dropout=0"]


def build_model(name: str, scale: str, overrides: list[str], device: torch.device):
    """The named model of MODELS, composed like ``minrnn-train`` does, with its vocabulary size."""
    from hydra import compose, initialize_config_dir

    from minrnn.harness.train import CONFIGS, build

    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose(
            "train", overrides=[*MODELS[name], "task=selective_copy", f"scale={scale}", *BENCH_OVERRIDES, *overrides]
        )
    task, model = build(cfg)
    return model.to(device), task.vocab_size
