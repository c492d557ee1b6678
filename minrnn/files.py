"""The one writer: everything minrnn saves (results, summaries, checkpoints, models, caches, figures,
data files) goes through here, so every file has the same guarantees (docs/reliability.md):

- **atomic**: written under a temporary name of this writer's own in the target's folder, then renamed
  over the target; a reader sees the old file or the new one, never a part of one;
- **durable**: the file and its folder are fsynced before the call returns;
- **shared**: the mode comes from the umask (0666 & ~umask), as ``open`` would give, not mkstemp's 0600;
- **contained**: with ``root``, a target that resolves outside ``root`` (``..``, an absolute name, a
  link out of it) is refused before anything is written (:class:`PathError`);
- **no leftovers**: a failed write removes its temporary file and leaves the old target unchanged;
  :func:`replace_dir` swaps in a whole folder only once the new one is complete.

Only the standard library: the library, the harness, tasks and scripts all import it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


class PathError(ValueError):
    """A name that would put a file outside the folder it belongs in."""


def umask() -> int:
    """The process's umask, read without changing it where Linux allows (/proc), else set and restored."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def inside(root: str | Path, path: str | Path, what: str = "path") -> Path:
    """``path`` (relative names are taken under ``root``) resolved, if it lies in ``root``; else PathError."""
    base = Path(root).resolve()
    target = (base / path).resolve()
    if target != base and base not in target.parents:
        raise PathError(
            f"{what} {str(path)!r} would be written outside {base}; use a name without '..' or '/' at its start"
        )
    return target


def target(path: str | Path, root: str | Path | None = None) -> Path:
    """Where a write of ``path`` lands: inside ``root`` (checked) when one is given."""
    return inside(root, path) if root is not None else Path(path)


def check_writable(path: str | Path, folder: bool) -> None:
    """Before a long run writes ``path`` (a folder, or a file when not ``folder``): OSError naming it now
    if the write would fail at the end: a file where the folder should be, or no writable folder above it."""
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder, is there", str(path))
    above = path if folder and path.is_dir() else path.absolute().parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a file where a folder is needed", str(above))
    if not os.access(above, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "this folder is not writable", str(above))


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot fsync a folder: the rename still stands
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path, root: str | Path | None = None, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, so writers that infer a format from it work);
    when the block ends without an error it becomes ``path``, else it is removed and ``path`` is unchanged."""
    path = target(path, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".{os.getpid()}.tmp{path.suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, (0o666 if mode is None else mode) & ~umask())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_bytes(path: str | Path, data: bytes, root: str | Path | None = None) -> Path:
    """``data`` to ``path``, atomically and durably (module docstring)."""
    with atomic_path(path, root) as tmp:
        tmp.write_bytes(data)
    return target(path, root)


def write_text(path: str | Path, text: str, root: str | Path | None = None) -> Path:
    """``text`` (UTF-8) to ``path``, atomically and durably."""
    return write_bytes(path, text.encode(), root)


def write_json(path: str | Path, obj, root: str | Path | None = None) -> Path:
    """``obj`` as indented JSON with a final newline; an object JSON cannot hold is a ValueError, nothing written."""
    try:
        text = json.dumps(obj, indent=2) + "\n"
    except (TypeError, ValueError) as e:
        raise ValueError(f"cannot write {path}: not JSON ({e})") from None
    return write_text(path, text, root)


def replace_dir(path: str | Path, fill: Callable[[Path], None], root: str | Path | None = None) -> Path:
    """Build a folder with ``fill(tmp)`` beside ``path``, then put it in ``path``'s place: the old folder
    (if any) is kept until the new one is complete, so a failed save leaves the old one whole."""
    path = target(path, root)
    if path.exists() and not path.is_dir():
        raise PathError(f"{path} exists and is not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".{os.getpid()}.new"))
    old = new.with_suffix(".old")
    try:
        fill(new)
        os.chmod(new, 0o777 & ~umask())
        for f in new.rglob("*"):
            if f.is_file():
                with open(f, "rb+") as h:
                    os.fsync(h.fileno())
        if path.exists():
            os.replace(path, old)
        os.replace(new, path)
        _fsync_dir(path.parent)
    except BaseException:
        if old.exists() and not path.exists():
            os.replace(old, path)  # the swap failed between its two renames: the old folder goes back
        raise
    finally:
        shutil.rmtree(new, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return path
