"""Fetching public data files into a cache: atomic (a temporary file, then a rename), checksummed when
a checksum is known, and failing with one message that names the file and where to get it."""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

from minrnn.files import atomic_path
from minrnn.reader import MAX_DATA, UnreadableFile, open_file


class DataError(FileNotFoundError):
    """A data file that is missing, unreadable or not what it should be; the message says where to get it."""


def md5sum(path: Path) -> str:
    h = hashlib.md5()
    try:
        with open_file(path, MAX_DATA) as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except UnreadableFile as e:
        raise DataError(str(e)) from None
    return h.hexdigest()


def download(url: str, target: Path, how: str) -> None:
    """Fetch url to target through a temporary file and a rename (never a half-written target);
    ``how`` (where to get the file by hand, which setting to point at it) ends the error message."""
    try:
        with atomic_path(target) as tmp:
            urllib.request.urlretrieve(url, tmp)
    except OSError as e:
        raise DataError(f"could not download {url} to {target} ({e}). {how}.") from None
