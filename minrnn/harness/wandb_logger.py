"""Weights & Biases, offline first (most machines here have no network).

``logger.mode``: online | offline | disabled; its default is ``$WANDB_MODE``, else offline. When the
two disagree, the more offline one wins (disabled > offline > online): an environment that says
offline is never overridden. Online mode first checks, within 3 s, that W&B's server
(``$WANDB_BASE_URL``, default https://api.wandb.ai) answers; if not, the run logs offline and says
so once. Offline runs land in the run directory (``<run dir>/wandb/offline-run-<time>-<id>``); the end
of a run prints that folder and the exact command that uploads it (``WandbLogger.where``). Any W&B
failure later in a run (init, log, finish) is reported once and logging stops; training and the
results never depend on W&B: the local metrics.jsonl and the results file are the source of truth,
W&B is a view.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

from minrnn.harness.schema import check_value

MODES = ("online", "offline", "disabled")  # least to most offline


def reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to url's host and port opens within timeout seconds."""
    u = urlparse(url)
    try:
        with socket.create_connection((u.hostname, u.port or (443 if u.scheme == "https" else 80)), timeout):
            return True
    except OSError:
        return False


def effective_mode(mode: str) -> str:
    """logger.mode capped by $WANDB_MODE (the more offline of the two)."""
    check_value("logger.mode", mode)
    env = os.environ.get("WANDB_MODE", "online")
    return max(mode, env if env in MODES else "online", key=MODES.index)


def offline_folder(run) -> Path | None:
    """The folder of an offline run (``.../wandb/offline-run-<time>-<id>``, what ``wandb sync`` takes)."""
    try:
        folder = Path(run.dir).parent  # run.dir is the run folder's files/
    except Exception:  # a stand-in run object, or a W&B without .dir
        return None
    return folder if folder.name.startswith("offline-run-") else None


class WandbLogger:
    def __init__(self, mode: str, project: str, run_dir: Path, name: str, group: str, config: dict, tags=()):
        self.run, self.offline_dir, self.url = None, None, None  # where the data goes, once the run started
        mode = effective_mode(mode)
        if mode == "disabled":
            return
        url = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
        if mode == "online" and not reachable(url):
            self._say(f"cannot reach {url}; logging offline to {run_dir}/wandb (upload later with `wandb sync`)")
            mode = "offline"
        os.environ.setdefault("WANDB_SILENT", "true")
        try:
            import wandb

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
            if mode == "offline":
                self.offline_dir = offline_folder(self.run)
            else:
                self.url = getattr(self.run, "url", None)
        except Exception as e:  # no W&B error may stop a run
            self._fail(f"could not start in {mode} mode ({type(e).__name__}: {e})")

    def where(self) -> str | None:
        """Where this run's W&B data went and how to upload it, for the end-of-run report (None: disabled)."""
        if self.offline_dir is not None:
            return f"{self.offline_dir} (offline; upload: wandb sync {shlex.quote(str(self.offline_dir))})"
        return f"online: {self.url}" if self.url else None

    @staticmethod
    def _say(message: str) -> None:
        print(f"minrnn-train: W&B: {message}", file=sys.stderr, flush=True)

    def _fail(self, what: str) -> None:
        self._say(f"{what}; W&B logging is off for this run (metrics.jsonl and the results file are unaffected)")
        self.run = None

    def log(self, metrics: dict, step: int) -> None:
        if self.run is not None:
            try:
                self.run.log(metrics, step=step)
            except Exception as e:
                self._fail(f"log failed ({type(e).__name__}: {e})")

    def finish(self) -> None:
        if self.run is not None:
            try:
                self.run.finish()
            except Exception as e:
                self._fail(f"finish failed ({type(e).__name__}: {e})")
            self.run = None
