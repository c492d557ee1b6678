"""Ctrl-C (SIGINT) or SIGTERM to a local sweep (``-m``, ``hydra/launcher=local`` or Hydra's basic
launcher) stops it the way it stops a single run: every running run finishes its step, saves a
checkpoint and stops, queued runs do not start, and ``minrnn-train`` lists where each run of the sweep
stands (stopped with its checkpoint, not started, finished, failed) and exits with 128 + the signal,
leaving no worker behind. Rerunning the sweep resumes every run.

The signal is noted in a folder the sweep's processes share (``$MINRNN_LOCAL_SWEEP``): the parent
forwards it to the workers that have joined (a signal sent to the parent alone reaches them too), and
a worker notes it between runs instead of dying, which would break joblib's pool and lose the runs
of the other workers. A worker joins when its first run is handed to it; a signal in the second or
so before that still kills it (the sweep then fails as before, with nothing trained yet to lose).
Slurm sweeps are left to submitit, which requeues on its own signals.

A run that fails (a bad value, a diverging loss) fails alone: it is noted here, every other run goes
on and records its result, and the sweep ends by naming each failed run with its reason (exit 1).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback

from minrnn.files import write_text
from minrnn.reader import read_text

ENV = "MINRNN_LOCAL_SWEEP"
SIGNALS = (signal.SIGINT, signal.SIGTERM)
LOCAL_LAUNCHERS = ("JoblibLauncher", "BasicLauncher")
KINDS = ("report", "failed")
NAME = re.compile(r"(\d+)-(\d+)-(\d+)-(" + "|".join(KINDS) + ")")  # SweepStop._write's file names


class SweepStop:
    """The signal handler of a sweep's processes; a run in progress stops after its checkpoint
    (minrnn-train passes it to the trainer's StopSignals, which hands a run's signal to it)."""

    def __init__(self, folder: Path, parent: bool):
        self.folder, self.parent = folder, parent

    def __call__(self, signum, frame) -> None:
        mark = self.folder / "signal"
        if not mark.exists():
            write_text(mark, str(signum))
        if self.parent:
            for pid in self.workers():
                try:
                    os.kill(pid, signum)
                except ProcessLookupError:
                    pass

    def install(self) -> None:
        for sig in SIGNALS:
            signal.signal(sig, self)

    def signum(self) -> int | None:
        """The first stop signal the sweep received, if any."""
        mark = self.folder / "signal"
        return int(read_text(mark)) if mark.exists() else None

    def workers(self) -> list[int]:
        return [int(p.name) for p in (self.folder / "workers").iterdir()]

    def report(self, line: str) -> None:
        """Where a run stands when the sweep stops: listed in the sweep's order (Hydra's job number)."""
        self._write("report", line)

    def fail(self, line: str) -> None:
        """A run that failed: named at the end of the sweep, while the other runs go on."""
        self._write("failed", line)

    def failures(self) -> list[str]:
        return [line for kind, line in self._read() if kind == "failed"]

    def listing(self) -> list[str]:
        """Every run's line, reports and failures together, in the sweep's order."""
        return [line + (" (failed)" if kind == "failed" else "") for kind, line in self._read()]

    def _write(self, kind: str, line: str) -> None:
        assert kind in KINDS, kind
        job = HydraConfig.get().job.get("num", 0) if HydraConfig.initialized() else 0  # a caller outside a sweep: 0
        write_text(self.folder / f"{job:09d}-{time.monotonic_ns():020d}-{os.getpid()}-{kind}", line)

    def _read(self) -> list[tuple[str, str]]:
        """(kind, line) of each file ``_write`` left, by job number, then time, then process, compared as
        numbers (a job past 9 digits is longer, not out of order); other names are no run's line."""
        found = [(m, p) for p in self.folder.iterdir() if (m := NAME.fullmatch(p.name))]
        found.sort(key=lambda mp: tuple(int(mp[0].group(i)) for i in (1, 2, 3)))
        return [(m.group(4), read_text(p)) for m, p in found]

    @classmethod
    def join(cls) -> SweepStop | None:
        """In a run of a local sweep: the sweep's handler, installed in this process; else None."""
        folder = os.environ.get(ENV)
        if not folder or not Path(folder).is_dir():
            return None
        folder = Path(folder)
        if int(read_text(folder / "parent")) == os.getpid():  # the basic launcher runs jobs in-process
            handler = signal.getsignal(signal.SIGINT)
            return handler if isinstance(handler, cls) else None
        write_text(folder / "workers" / str(os.getpid()), "")  # an empty marker: its name is the pid
        if not isinstance(signal.getsignal(signal.SIGINT), cls):
            cls(folder, parent=False).install()
        return cls(folder, parent=False)


class LocalSweepSignals(Callback):
    """Hydra callback (configs/train.yaml): sets the sweep's handler up in the parent, and at the end
    reports the runs a signal stopped and exits with 128 + the signal."""

    def __init__(self):
        self.sweep: SweepStop | None = None
        self.previous: dict[int, object] = {}

    def on_multirun_start(self, config, **kwargs) -> None:
        if not str(config.hydra.launcher.get("_target_", "")).endswith(LOCAL_LAUNCHERS):
            return
        folder = Path(tempfile.mkdtemp(prefix="minrnn-sweep-"))
        atexit.register(shutil.rmtree, folder, True)  # removed on every exit path, a crash of the sweep too
        (folder / "workers").mkdir()
        write_text(folder / "parent", str(os.getpid()))
        os.environ[ENV] = str(folder)
        self.previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
        self.sweep = SweepStop(folder, parent=True)
        self.sweep.install()

    def on_multirun_end(self, config, **kwargs) -> None:
        if self.sweep is None:
            return
        signum, failures, listing = self.sweep.signum(), self.sweep.failures(), self.sweep.listing()
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        os.environ.pop(ENV, None)
        shutil.rmtree(self.sweep.folder, ignore_errors=True)
        if signum is None:
            if failures:
                lines = "".join(f"\n  {line}" for line in failures)
                print(
                    f"minrnn-train: {len(failures)} run(s) of the sweep failed; the others finished:{lines}\n"
                    "Rerun the same command to retry them (finished runs are skipped).",
                    file=sys.stderr,
                    flush=True,
                )
                sys.exit(1)
            return
        lines = "".join(f"\n  {line}" for line in listing)
        print(
            f"minrnn-train: sweep stopped by {signal.Signals(signum).name}:{lines}\nRerun the same command to resume.",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(128 + signum)
