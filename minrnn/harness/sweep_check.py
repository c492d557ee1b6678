"""Every run of a sweep checked before the first one starts (a Hydra callback, configs/train.yaml).

``minrnn-train -m seed=0,-1,2`` used to find ``seed=-1`` only when its run started, after the runs
before it, and the runs after it never ran. Here each job of the sweep is composed as its run will
be and checked against the schema (minrnn.harness.schema: every key, type, choice, range and
combination); a bad one is one message naming the job, and nothing runs (exit 2). So are two jobs that
are one run (the same run name: ``seed=0,0``, or a setting outside the run's identity such as threads).
Runs for local and Slurm launchers alike, before any job is launched; a Slurm sweep's devices are checked on its nodes.
"""

from __future__ import annotations

import sys

from hydra import compose
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import OmegaConf

from minrnn.harness.schema import check, check_launcher


def sweep_jobs(overrides: list[str]) -> list[list[str]]:
    """The override list of each job of a sweep, as Hydra's basic sweeper expands it."""
    parsed = OverridesParser.create().parse_overrides(overrides=overrides)
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def _refuse(message: str) -> None:
    print(f"minrnn-train: error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


class SweepCheck(Callback):
    def on_multirun_start(self, config, **kwargs) -> None:
        launcher = OmegaConf.select(config, "hydra.launcher")
        try:
            check_launcher(launcher)
        except ValueError as e:
            _refuse(f"{e}; nothing was started")
        here = "submitit" not in str(OmegaConf.select(config, "hydra.launcher._target_", default=""))
        try:
            jobs = sweep_jobs(list(config.hydra.overrides.task))
        except Exception:  # Hydra's own parse errors are reported by Hydra itself, later
            return
        names: dict[str, tuple[int, list[str]]] = {}
        for i, job in enumerate(jobs, 1):
            try:
                cfg = compose(config_name=config.hydra.job.config_name, overrides=job)
                check(cfg, here=here)
                name = str(cfg.run_name)
            except Exception as e:  # the schema's one line, or Hydra's own composition error
                what, why = " ".join(job), (str(e).strip().splitlines() or [type(e).__name__])[0]
                _refuse(f"run {i} of {len(jobs)} of the sweep ({what}): {why}; nothing was started")
            if name in names:  # one run twice (seed=0,0; threads=1,2): one folder, one result file
                j, other = names[name]
                a, b = [o for o in other if o not in job], [o for o in job if o not in other]
                what = f"{' '.join(a)} / {' '.join(b)}" if a or b else "the same overrides"
                _refuse(
                    f"runs {j} and {i} of {len(jobs)} of the sweep ({what}) are the same run, {name}: they would "
                    "train into one folder and write one result; nothing was started"
                )
            names[name] = (i, job)
