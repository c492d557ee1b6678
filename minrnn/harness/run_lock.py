"""One writer per run directory: a lock held by the live process that trains the run.

``run_dir/.lock`` is locked with ``fcntl.lockf`` (POSIX record locks, which NFS v4 also honours) for
as long as the run lives; the kernel drops the lock when its holder exits in any way, SIGKILL
included, and a requeued job on another node can take it then. A second run of the same config
exits at once with a message naming the holder (pid, host, start time) instead of sharing the
checkpoint and the logs.
"""

from __future__ import annotations

import datetime
import fcntl
import os
import socket
from pathlib import Path


class RunInUse(RuntimeError):
    """Another live process holds the run directory."""


class RunLock:
    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / ".lock"
        self.file = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise RunInUse(
                f"run directory {self.path.parent} is in use by {holder}; wait for it to finish or "
                "stop it (rerunning afterwards resumes from its checkpoint)"
            ) from None
        f.seek(0)
        f.truncate()
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        f.write(f"pid {os.getpid()} on {socket.gethostname()} since {now}\n")
        f.flush()
        self.file = f
        return self

    def __exit__(self, *exc):
        fcntl.lockf(self.file, fcntl.LOCK_UN)
        self.file.close()
