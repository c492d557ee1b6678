"""trainer.compile: training steps per second, eager against torch.compile, at each task's CPU scale.

One training step as the trainer runs it (a batch, forward, loss, backward, clipping, AdamW step) for
one experiment preset per task. Each (preset, compile) runs in a fresh subprocess, all in one
invocation, so the ratios compare like with like; the first step (which compiles) is timed apart.
Rerunning the same command resumes. Shakespeare needs $MINRNN_SHAKESPEARE (or its download).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

from minrnn.bench import ROOT
from minrnn.bench.grid import Grid, SettingsMismatch, repeat_timed, run_job
from minrnn.harness.records import write_text_atomic

EXPERIMENTS = [  # one per task at scale=cpu, plus the other Table 2 models on selective copying
    "table2/mingru",
    "table2/minlstm",
    "table2/mamba",
    "table2/transformer",
    "figure2/mingru",
    "table4/minlstm",
    "table6/minlstm_conv_mlp",
]


def measure(job: dict) -> dict:
    """Seconds per training step of one preset, eager or compiled (runs inside the worker)."""
    from hydra import compose, initialize_config_dir

    from minrnn.harness.config import CONFIGS, register_resolvers
    from minrnn.harness.train import build
    from minrnn.harness.trainer import build_optimizer

    register_resolvers()
    torch.manual_seed(0)
    torch.set_num_threads(job["threads"])
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={job['experiment']}", "scale=cpu", "logger.mode=disabled"])
    task, model = build(cfg)
    model.train()
    forward = torch.compile(model) if job["compile"] else model
    opt = build_optimizer(model, cfg.trainer)
    micro = cfg.trainer.batch_size // cfg.trainer.grad_accum
    batches = [task.train_batch(micro, i) for i in range(job["steps"] + 1)]
    position = iter(range(10**9))

    def step():
        x, y = batches[next(position) % len(batches)]
        opt.zero_grad(set_to_none=True)
        task.loss(forward(x), y).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.trainer.grad_clip or float("inf"))
        opt.step()

    t0 = time.perf_counter()
    step()  # compiles when compiled
    first = time.perf_counter() - t0
    times = repeat_timed(step, torch.device("cpu"), job["steps"], job["budget"])
    x = batches[0][0]
    return {
        "status": "ok",
        "ms_per_step": 1000 * statistics.median(times),
        "first_step_s": round(first, 2),
        "runs": len(times),
        "batch_shape": "x".join(map(str, x.shape)),
    }


def report(rows: list[dict]) -> str:
    """A markdown table: eager and compiled ms per step and the speed-up, per preset."""
    by = {(r["experiment"], str(r["compile"])): r for r in rows}
    lines = [
        "| experiment | batch | eager ms/step | compiled ms/step | compiled speed-up | first compiled step |",
        "|---|---|---|---|---|---|",
    ]
    for exp in dict.fromkeys(r["experiment"] for r in rows):
        e, c = by.get((exp, "False"), {}), by.get((exp, "True"), {})
        if e.get("status") != "ok" or c.get("status") != "ok":
            why = e.get("error") or c.get("error") or e.get("status") or c.get("status")
            lines.append(f"| {exp} | | | | not measured: {why} | |")
            continue
        em, cm = float(e["ms_per_step"]), float(c["ms_per_step"])
        lines.append(
            f"| {exp} | {e['batch_shape']} | {em:.1f} | {cm:.1f} | {em / cm:.2f}x | {float(c['first_step_s']):.0f} s |"
        )
    return "\n".join(lines) + "\n"


def add_arguments(ap) -> None:
    ap.add_argument("--experiments", nargs="+", default=EXPERIMENTS)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per configuration")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds of timed steps before stopping early")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--out", type=Path, default=ROOT / "results/efficiency")
    ap.add_argument("--fresh", action="store_true", help="discard rows already measured with these settings")


def run(args, error) -> int:
    """Each preset eager and compiled, in a fresh subprocess each (resuming), then the report."""
    if args.steps < 1 or args.budget <= 0:
        error("steps and budget must be positive")
    settings = {"steps": args.steps, "budget": args.budget, "threads": args.threads or torch.get_num_threads()}
    try:
        grid = Grid(args.out / "compile_cpu.csv", ("experiment", "compile"), settings, "cpu", args.fresh)
    except SettingsMismatch as e:
        print(f"bench_compile: error: {e}", file=sys.stderr)
        return 2
    for exp in args.experiments:
        for compiled in (False, True):
            job = {"experiment": exp, "compile": compiled, **settings}
            if grid.done(job):
                continue
            row = run_job(measure, job, args.timeout)
            grid.add({"experiment": exp, "compile": compiled, **row, "date": time.strftime("%Y-%m-%dT%H:%M:%S")})
            print(f"{exp} compile={compiled}: {row}", flush=True)
    table = report(grid.rows)
    write_text_atomic(args.out / "compile_cpu.md", "## trainer.compile at scale=cpu\n\n" + table)
    print(table)
    return 0
