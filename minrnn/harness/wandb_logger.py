"""Weights & Biases, offline by default (most machines here have no network).

``logger.mode``: online | offline | disabled. Offline runs land in the run directory and can be
uploaded later with ``wandb sync runs/**/wandb/offline-run-*``. The local metrics.jsonl and the
results file stay the source of truth; W&B is a view.
"""

from __future__ import annotations

import os
from pathlib import Path


class WandbLogger:
    def __init__(self, mode: str, project: str, run_dir: Path, name: str, group: str, config: dict, tags=()):
        if mode not in ("online", "offline", "disabled"):
            raise ValueError(f"logger.mode must be online, offline or disabled, got {mode!r}")
        self.run = None
        if mode == "disabled":
            return
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb

        try:
            self.run = wandb.init(
                mode=mode,
                project=project,
                dir=str(run_dir),
                name=name,
                group=group,
                config=config,
                tags=list(tags),
                reinit="finish_previous",
            )
        except wandb.errors.UsageError as e:
            raise ValueError(f"W&B could not start in {mode} mode ({e}); use logger.mode=offline or disabled") from e

    def log(self, metrics: dict, step: int) -> None:
        if self.run is not None:
            self.run.log(metrics, step=step)

    def finish(self, summary: dict | None = None) -> None:
        if self.run is not None:
            if summary:
                for k, v in summary.items():
                    if isinstance(v, (int, float, str)):
                        self.run.summary[k] = v
            self.run.finish()
            self.run = None
