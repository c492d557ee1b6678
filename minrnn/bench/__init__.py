"""Benchmarks: what the efficiency results in results/bench, results/efficiency and results/core measure.

One module per benchmark, each with ``add_arguments(ap)`` and ``run(args, error) -> int`` behind a thin
script in scripts/: layers (the layer benchmark, timed in interleaved rounds within a time budget: timing),
training and inference (Figures 1, 3-4: a resumable grid of fresh subprocesses: grid, worker), compiled
(trainer.compile), profile_step (where a step's time goes), layer_precision and scan_accuracy (the
precision policy and the scans' float32 error), efficiency (Figures 1, 3-4 drawn from the CSVs), and the
GPU checks: gpu_check (make gpu-check; its report: gpu_report) and gpu_compile (make test-gpu-compile).
None writes over a result of another config: each checks before its work (minrnn.harness.records.check_replace;
``--replace`` to write over it; the grids: ``--fresh``).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout: default outputs go to its results/
