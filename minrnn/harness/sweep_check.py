"""Every run of a sweep checked before the first one starts (a Hydra callback, configs/train.yaml).

``minrnn-train -m seed=0,-1,2`` used to find ``seed=-1`` only when its run started, after the runs
before it, and the runs after it never ran. Here each job of the sweep is composed as its run will
be and its settings checked (minrnn.harness.settings); a bad one is one message naming the job, and
nothing runs (exit 2). Runs for local and Slurm launchers alike, before any job is launched.
"""

from __future__ import annotations

import sys

from hydra import compose
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from minrnn.harness.settings import check_settings


def sweep_jobs(overrides: list[str]) -> list[list[str]]:
    """The override list of each job of a sweep, as Hydra's basic sweeper expands it."""
    parsed = OverridesParser.create().parse_overrides(overrides=overrides)
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


class SweepCheck(Callback):
    def on_multirun_start(self, config, **kwargs) -> None:
        try:
            jobs = sweep_jobs(list(config.hydra.overrides.task))
        except Exception:  # Hydra's own parse errors are reported by Hydra itself, later
            return
        for i, job in enumerate(jobs, 1):
            try:
                cfg = compose(config_name=config.hydra.job.config_name, overrides=job)
                check_settings(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True))
            except (ValueError, OmegaConfBaseException) as e:
                what, why = " ".join(job), (str(e).strip().splitlines() or [type(e).__name__])[0]
                print(
                    f"minrnn-train: error: run {i} of {len(jobs)} of the sweep ({what}): {why}; nothing was started",
                    file=sys.stderr,
                    flush=True,
                )
                sys.exit(2)
