"""The one reader: everything minrnn reads from disk (summaries, checkpoints, metrics logs, caches, data
files, config folders) goes through here, the counterpart of the one writer (minrnn.files), so every
file read has the same guarantees (docs/reliability.md):

- **regular files only**: a folder, a FIFO, a device or a socket is refused before it is opened (a FIFO
  never blocks a reader: the check comes first and the open is non-blocking), and so is a symbolic link
  that leaves the file's folder;
- **bounded**: the size is checked before a byte is read or an object built (``max_bytes``);
- **parsed safely**: JSON nested deeper than ``max_depth`` is refused, never a ``RecursionError``;
  pickles build only the classes of an allow-list; torch files load with ``weights_only=True``;
  HDF5/npz datasets are checked (present, dtype, shape, agreeing lengths) before any is read;
- **checked against its writer's schema** (:class:`Field`, :class:`Record`): types, ranges, choices,
  units, required keys; a versioned :class:`Format` (``"format": "minrnn.checkpoint/2"``) migrates an
  older file (the keys added since, with their defaults, named) or refuses it;
- **one error**: every failure is an :class:`UnreadableFile` (a ValueError) naming the file and why.

minrnn's own formats (RESULT, CHECKPOINT, METRICS_LINE) and the HDF5/npz readers are in minrnn.formats.

Only the standard library at import (numpy, torch and h5py are imported by the helpers that need them).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import pickle
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KiB, MiB, GiB = 2**10, 2**20, 2**30
MAX_JSON = 8 * MiB  # a summary, a cache index, a sidecar: a few KiB; far larger is not one
MAX_LOG = 256 * MiB  # a metrics log: one line per evaluation
MAX_TEXT = 64 * MiB  # a corpus (tiny Shakespeare is 1.1 MB), a config file
MAX_CHECKPOINT = 4 * GiB
MAX_DATA = 16 * GiB  # a data file (D4RL's largest HDF5 is ~1 GB, LRA's largest TSV ~0.5 GB)
MAX_DEPTH = 64  # nesting of a JSON document; minrnn writes at most ~6


class UnreadableFile(ValueError):
    """A file that is missing, not a regular file, too large, malformed or not what its writer writes."""

    def __init__(self, path: str | Path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


# ---------------------------------------------------------------------------------------------- files


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def regular_file(path: str | Path, max_bytes: int, folder: str | Path | None = None) -> os.stat_result:
    """The stat of ``path`` if it is a regular file of at most ``max_bytes`` (a link is followed only when
    it stays in ``folder``, by default the file's own); else UnreadableFile. Nothing is opened."""
    path = Path(path)
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            base, real = Path(folder if folder is not None else path.parent).resolve(), path.resolve()
            if base not in real.parents:
                raise UnreadableFile(path, f"a symbolic link out of its folder (to {real}); not read")
            st = os.stat(path)
    except FileNotFoundError:
        raise UnreadableFile(path, "not found") from None
    except (OSError, RuntimeError) as e:  # a loop of links, a permission, a name too long
        raise UnreadableFile(path, f"cannot be read ({getattr(e, 'strerror', None) or e})") from None
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableFile(path, f"{_kind(st.st_mode)}, not a regular file; not read")
    if st.st_size > max_bytes:
        raise UnreadableFile(path, f"{st.st_size} bytes, more than the {max_bytes} such a file may have; not read")
    return st


@contextlib.contextmanager
def open_file(path: str | Path, max_bytes: int, folder: str | Path | None = None) -> Iterator[io.BufferedReader]:
    """A binary file object of ``path``, checked as :func:`regular_file` before it is opened and again
    after (the file it opened is the file it checked)."""
    path = Path(path)
    st = regular_file(path, max_bytes, folder)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not path.is_symlink():
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise UnreadableFile(path, f"cannot be opened ({e.strerror or e})") from None
    f = os.fdopen(fd, "rb")
    with f:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or now.st_size > max_bytes:
            raise UnreadableFile(path, "changed while it was being opened; not read")
        yield f


def read_bytes(path: str | Path, max_bytes: int = MAX_TEXT, folder: str | Path | None = None) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``."""
    with open_file(path, max_bytes, folder) as f:
        try:
            data = f.read(max_bytes + 1)
        except OSError as e:
            raise UnreadableFile(path, f"cannot be read ({e.strerror or e})") from None
    if len(data) > max_bytes:
        raise UnreadableFile(path, f"grew past {max_bytes} bytes while it was read; not read")
    return data


def read_text(
    path: str | Path, max_bytes: int = MAX_TEXT, folder: str | Path | None = None, errors: str = "strict"
) -> str:
    """A UTF-8 text file (``errors="replace"`` to keep going past bad bytes)."""
    data = read_bytes(path, max_bytes, folder)
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as e:
        raise UnreadableFile(path, f"not UTF-8 text (byte {e.start})") from None


def check_folder(path: str | Path, suffixes: tuple[str, ...] = (), max_bytes: int = MAX_TEXT) -> list[Path]:
    """A folder whose files (with ``suffixes``, recursively) are all regular files of bounded size with no
    link out of the folder: their paths, sorted. A user config folder is checked so before Hydra reads it."""
    root = Path(path)
    if not root.is_dir():
        raise UnreadableFile(root, "not a folder" if root.exists() else "not found")
    found = []
    for p in sorted(root.rglob("*")):
        if p.is_symlink() and root.resolve() not in p.resolve().parents:
            raise UnreadableFile(p, f"a symbolic link out of {root} (to {p.resolve()}); not read")
        if p.is_dir():
            continue
        if not suffixes or p.suffix in suffixes:
            regular_file(p, max_bytes, root)
            found.append(p)
    return found


# --------------------------------------------------------------------------------------------- schema


class _Absent:
    def __repr__(self) -> str:
        return "absent"


ABSENT = _Absent()  # a Field's default that leaves a missing optional key missing


@dataclass(frozen=True)
class Field:
    """One field a writer writes: its type (``float`` takes an int too; ``int`` and ``float`` never take a
    bool; a :class:`Record` for a nested object), whether it must be present (else ``default``), its
    range, its choices, its unit (said in messages), and for a list or dict the spec of each item."""

    type: Any = object
    required: bool = True
    default: Any = ABSENT  # what a missing optional key is taken as (a callable is called: list -> [])
    lo: float | None = None
    hi: float | None = None
    choices: tuple | None = None
    unit: str = ""
    items: Any = None  # a Field or Record each list item / dict value must satisfy
    nullable: bool = False
    finite: bool = True  # for float: NaN and infinities refused


@dataclass(frozen=True)
class Record:
    """A JSON object (or dict) with these fields; keys not named are checked against ``rest`` (a Field or
    Record) when it is given, else kept unchecked."""

    fields: dict[str, Field]
    rest: Any = None


@dataclass(frozen=True)
class Format:
    """A versioned file format: files carry ``"format": "<name>/<version>"``; a file without that key is
    version 1 (written before formats were versioned). An older version is read with the fields it lacks
    set to their defaults (named on stderr); a newer or foreign one is refused."""

    name: str
    version: int
    record: Record
    oldest: int = 1

    @property
    def tag(self) -> str:
        return f"{self.name}/{self.version}"


class _Invalid(Exception):
    def __init__(self, where: str, why: str):
        super().__init__(f"{where}: {why}" if where else why)


def _type_name(t) -> str:
    if isinstance(t, tuple):
        return " or ".join(_type_name(x) for x in t)
    if isinstance(t, Record):  # found by tests/test_reader.py's fuzzing: a Record is not hashable
        return "an object"
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "an integer"}.get(
        t, "a number" if t is float else getattr(t, "__name__", str(t))
    )


def _check(value, spec, where: str):
    """``value`` checked against ``spec`` (a Field, a Record, a Format or None); defaults filled in."""
    if spec is None:
        return value
    if isinstance(spec, Format):
        spec = spec.record
    if isinstance(spec, Record):
        if not isinstance(value, dict):
            raise _Invalid(where, f"is {type(value).__name__}, not an object")
        out = dict(value)
        for key, f in spec.fields.items():
            here = f"{where}.{key}" if where else key
            if key not in value:
                if f.required:
                    raise _Invalid(here, "missing")
                if f.default is not ABSENT:
                    out[key] = f.default() if callable(f.default) else f.default
                continue
            out[key] = _check(value[key], f, here)
        if spec.rest is not None:
            for key in value.keys() - spec.fields.keys():
                out[key] = _check(value[key], spec.rest, f"{where}.{key}" if where else str(key))
        return out
    f: Field = spec
    if value is None:
        if f.nullable:
            return None
        raise _Invalid(where, f"is null, not {_type_name(f.type)}")
    if isinstance(f.type, Record):
        return _check(value, f.type, where)
    kinds = f.type if isinstance(f.type, tuple) else (f.type,)
    ok = any(
        isinstance(value, (int, float)) and not isinstance(value, bool)
        if t is float
        else isinstance(value, int) and not isinstance(value, bool)
        if t is int
        else isinstance(value, t)
        for t in kinds
    )
    if not ok:
        raise _Invalid(where, f"is {type(value).__name__} {_short(value)}, not {_type_name(f.type)}")
    unit = f" {f.unit}" if f.unit else ""
    if isinstance(value, float) and f.finite and not math.isfinite(value):
        raise _Invalid(where, f"is {value}{unit}, not a finite number")
    if f.choices is not None and value not in f.choices:
        raise _Invalid(where, f"is {_short(value)}, not one of {', '.join(map(repr, f.choices))}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if f.lo is not None and value < f.lo or f.hi is not None and value > f.hi:
            lo, hi = "-inf" if f.lo is None else f.lo, "inf" if f.hi is None else f.hi
            raise _Invalid(where, f"is {value}{unit}, outside [{lo}, {hi}]{unit}")
    if f.items is not None and isinstance(value, list):
        return [_check(v, f.items, f"{where}[{i}]") for i, v in enumerate(value)]
    if f.items is not None and isinstance(value, dict):
        return {k: _check(v, f.items, f"{where}.{k}") for k, v in value.items()}
    return value


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _depth(obj, limit: int) -> bool:
    """Whether ``obj`` nests lists/dicts deeper than ``limit`` (iteratively: no recursion to exhaust)."""
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (dict, list)):
            if d > limit:
                return True
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return False


def _version(path: Path, obj, fmt: Format) -> int:
    tag = obj.get("format") if isinstance(obj, dict) else None
    if tag is None:
        return 1
    name, _, number = str(tag).rpartition("/")
    if name != fmt.name or not number.isdigit():
        raise UnreadableFile(path, f"format {tag!r} is not {fmt.name}/<version>; not read")
    version = int(number)
    if version > fmt.version:
        raise UnreadableFile(
            path, f"format {tag} was written by a newer minrnn (this one reads up to {fmt.tag}); update minrnn"
        )
    if version < fmt.oldest:
        raise UnreadableFile(path, f"format {tag} is older than this minrnn reads ({fmt.name}/{fmt.oldest}+)")
    return version


def check(path: str | Path, obj, schema=None, note=True):
    """``obj`` (read from ``path``) checked against ``schema`` (a Field, Record or Format), defaults filled;
    an older Format's missing fields are named on stderr (``note``). UnreadableFile names the field."""
    path = Path(path)
    version = _version(path, obj, schema) if isinstance(schema, Format) else None
    try:
        out = _check(obj, schema, "")
    except _Invalid as e:
        tag = f" ({schema.name}/{version})" if version is not None else ""
        raise UnreadableFile(path, f"{e}{tag}") from None
    if version is not None and version < schema.version and isinstance(obj, dict) and note:
        filled = [f"{k}={out[k]!r}" for k in schema.record.fields if k not in obj and k in out]
        if filled:
            print(
                f"{path}: {schema.name}/{version} read as {schema.tag}; "
                f"not in the file, so taken as {', '.join(filled)}",
                file=sys.stderr,
                flush=True,
            )
    return out


# ------------------------------------------------------------------------------------------ formats


def parse_json(path: str | Path, text: str | bytes, schema=None, max_depth: int = MAX_DEPTH):
    """JSON text (read from ``path``) parsed and checked; deep nesting is refused, not a RecursionError."""
    try:
        obj = json.loads(text)
    except RecursionError:
        raise UnreadableFile(path, f"JSON nested deeper than {max_depth} levels; not read") from None
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError, an int of too many digits, bad UTF-8
        raise UnreadableFile(path, f"not JSON ({str(e).splitlines()[0][:120]})") from None
    if _depth(obj, max_depth):
        raise UnreadableFile(path, f"JSON nested deeper than {max_depth} levels; not read")
    return check(path, obj, schema)


def read_json(
    path: str | Path,
    schema=None,
    max_bytes: int = MAX_JSON,
    max_depth: int = MAX_DEPTH,
    folder: str | Path | None = None,
):
    """A JSON file, bounded, depth-limited and checked against ``schema`` (a Field, Record or Format)."""
    return parse_json(path, read_bytes(path, max_bytes, folder), schema, max_depth)


def read_jsonl(path: str | Path, schema=None, max_bytes: int = MAX_LOG, max_depth: int = MAX_DEPTH) -> tuple[list, int]:
    """(records, dropped) of a JSON-lines log: a line that is not one whole record of ``schema`` (torn by a
    kill or a full disk mid-write) is dropped and counted, never an error."""
    records, dropped = [], 0
    for line in read_bytes(path, max_bytes).splitlines():
        if not line.strip():
            continue
        try:
            records.append(parse_json(path, line, schema, max_depth))
        except UnreadableFile:
            dropped += 1
    return records, dropped


def read_tsv(
    path: str | Path,
    fields: int,
    header: bool = False,
    max_bytes: int = MAX_DATA,
    errors: str = "strict",
    names: str = "",
) -> Iterator[list[str]]:
    """The rows of a tab-separated file, each of exactly ``fields`` fields (``names`` says which, in the
    message), read line by line; a row of another width or bad UTF-8 names its line."""
    with open_file(path, max_bytes) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors=errors, newline="\n")
        try:
            for n, line in enumerate(text, 1):
                if header and n == 1:
                    continue
                row = line.rstrip("\n").rstrip("\r").split("\t")
                if len(row) != fields:
                    what = f" ({names})" if names else ""
                    raise UnreadableFile(
                        path, f"line {n}: expected {fields} tab-separated fields{what}, got {len(row)}"
                    )
                yield row
        except UnicodeDecodeError as e:
            raise UnreadableFile(path, f"not UTF-8 text ({e.reason})") from None
        finally:
            text.detach()


def read_csv(path: str | Path, max_bytes: int = MAX_LOG) -> list[dict[str, str]]:
    """The rows of a CSV file with a header line (a benchmark's table), as dicts keyed by the header."""
    import csv

    try:
        return list(csv.DictReader(io.StringIO(read_text(path, max_bytes), newline="")))
    except csv.Error as e:
        raise UnreadableFile(path, f"not CSV ({e})") from None


class _AllowListUnpickler(pickle.Unpickler):
    allowed: frozenset = frozenset()

    def find_class(self, module, name):
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}: not on the allow-list")
        return super().find_class(module, name)


def _check_pickle(path: str | Path, data: bytes) -> None:
    """Every opcode of a pickle read before it is loaded, so no size in it is allocated before it is checked:
    a length field larger than the bytes left (a flipped byte that makes BINBYTES ask for 2 GB) or a memo
    index far past the file (LONG_BINPUT 2490982770: the unpickler grew its memo to 20 GB; found by
    tests/test_reader_fuzz.py, whose worker died) is refused, as is a malformed or truncated stream."""
    import pickletools

    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(data)):
            # a memo index far past the pickle's length: the unpickler would grow its memo to it first
            if op.name in ("PUT", "BINPUT", "LONG_BINPUT") and not 0 <= int(arg) <= len(data):
                raise ValueError(f"memo index {arg} past the pickle's {len(data)} bytes")
    except (ValueError, EOFError, KeyError, TypeError, OverflowError, MemoryError) as e:
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise UnreadableFile(path, f"not a pickle this code reads ({reason})") from None


def read_pickle(path: str | Path, allowed: set[tuple[str, str]], max_bytes: int = MAX_DATA, encoding="ASCII"):
    """A pickle that may build only the (module, name) classes in ``allowed`` (a pickle names any
    callable it likes: a planted file would run it); anything else, or a malformed file, is refused."""
    data = read_bytes(path, max_bytes)
    _check_pickle(path, data)
    unpickler = type("Unpickler", (_AllowListUnpickler,), {"allowed": frozenset(allowed)})
    try:
        return unpickler(io.BytesIO(data), encoding=encoding).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise UnreadableFile(path, f"not a pickle this code reads ({str(e)[:160] or type(e).__name__})") from None
    except SystemError:  # numpy's dtype.__setstate__ given a mangled state (found by tests/test_reader_fuzz.py)
        raise UnreadableFile(path, "not a pickle this code reads (an allowed class refused its saved state)") from None
    except (MemoryError, OverflowError, RecursionError) as e:
        raise UnreadableFile(path, f"a pickle too large or too deep to build ({type(e).__name__})") from None


def read_torch(path: str | Path, schema=None, max_bytes: int = MAX_CHECKPOINT):
    """A torch file (a checkpoint) loaded with ``weights_only=True`` (tensors and plain containers only),
    its size checked first, then checked against ``schema``."""
    import torch

    regular_file(path, max_bytes)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- torch raises any of a dozen types for a malformed file
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise UnreadableFile(path, f"not a torch file this code reads ({type(e).__name__}: {first})") from None
    return check(path, obj, schema)
