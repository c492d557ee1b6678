"""minrnn's own file formats (a run's result, its checkpoint, a metrics line) and the readers of array
files (HDF5, npz), each checked before any array is read; on top of the one reader (minrnn.reader), whose
guarantees they share: regular files only, bounded, one :class:`~minrnn.reader.UnreadableFile` naming the
file and why (docs/reliability.md).

Only the standard library at import (numpy and h5py are imported by the readers that need them).
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minrnn.reader import MAX_DATA, Field, Format, MiB, Record, UnreadableFile, regular_file


@dataclass(frozen=True)
class Array:
    """An array a data file must hold: numpy dtype kinds (``"f"`` float, ``"iu"`` integers, ``"b"`` bool)
    and a shape whose entries are an int, None (any) or a name (``"n"``, ``"n+1"``) that every array of
    the file (or group) must agree on."""

    kinds: str = "biuf"
    shape: tuple = field(default_factory=tuple)


def _dims(path, where: str, arrays: dict[str, Array], shapes: dict[str, tuple], dtypes: dict) -> None:
    """Check each present array's dtype and shape against its spec, names bound consistently."""
    bound: dict[str, tuple[int, str]] = {}
    missing = [f"{where}{k}" for k in arrays if k not in shapes]
    if missing:
        has = ", ".join(sorted(shapes)) or "none of them"
        raise UnreadableFile(path, f"missing dataset{'s' * (len(missing) > 1)} {', '.join(missing)} (has {has})")
    for key, spec in arrays.items():
        name = f"{where}{key}"
        shape, kind = shapes[key], dtypes[key]
        if kind not in spec.kinds:
            raise UnreadableFile(path, f"dataset {name} has dtype kind {kind!r}, not one of {spec.kinds!r}")
        if len(shape) != len(spec.shape):
            raise UnreadableFile(path, f"dataset {name} has shape {shape}, not {len(spec.shape)}-dimensional")
        for size, want in zip(shape, spec.shape, strict=True):
            if isinstance(want, int) and size != want:
                raise UnreadableFile(path, f"dataset {name} has shape {shape}, expected {spec.shape}")
            if isinstance(want, str):
                symbol, _, plus = want.partition("+")
                base = size - int(plus or 0)
                if symbol in bound and bound[symbol][0] != base:
                    other = bound[symbol][1]
                    raise UnreadableFile(
                        path, f"dataset {name} has shape {shape}, which does not match {other} ({symbol} differs)"
                    )
                bound.setdefault(symbol, (base, name))


def read_hdf5(
    path: str | Path, arrays: dict[str, Array], groups: str | None = None, max_bytes: int = MAX_DATA, expand: int = 8
) -> dict[str, Any]:
    """The arrays of an HDF5 file, as numpy, each checked (present, dtype, shape, agreeing lengths) before
    any is read; with ``groups`` (a prefix such as ``"episode_"``) those of each group of that name,
    ``{group: {name: array}}`` in the groups' numeric order. What the arrays would take in memory is
    bounded by ``expand`` times the file's size (a compressed file cannot make a reader allocate more)."""
    import h5py
    import numpy as np

    st = regular_file(path, max_bytes)
    budget = max(expand * st.st_size, 1 * MiB)
    try:
        with h5py.File(path, "r") as f:
            if groups is None:
                places = {"": f}
            else:
                names = [k for k in f if k.startswith(groups) and k[len(groups) :].isdigit()]
                if not names:
                    raise UnreadableFile(path, f"holds no {groups}<i> groups (has {', '.join(list(f)[:8]) or 'none'})")
                places = {k: f[k] for k in sorted(names, key=lambda k: int(k[len(groups) :]))}
            total = 0
            for name, g in places.items():
                if not isinstance(g, h5py.Group):
                    raise UnreadableFile(path, f"{name} is not a group")
                items = {k: g[k] for k in arrays if k in g}
                wrong = [k for k, d in items.items() if not isinstance(d, h5py.Dataset)]
                if wrong:
                    raise UnreadableFile(path, f"{name + '/' if name else ''}{wrong[0]} is not a dataset")
                _dims(
                    path,
                    f"{name}/" if name else "",
                    arrays,
                    {k: d.shape for k, d in items.items()},
                    {k: d.dtype.kind for k, d in items.items()},
                )
                total += sum(int(np.prod(d.shape, dtype=np.int64)) * d.dtype.itemsize for d in items.values())
                if total > budget:
                    raise UnreadableFile(path, f"its datasets would take {total} bytes, {expand}x more than the file")
            out = {name: {k: np.asarray(g[k]) for k in arrays} for name, g in places.items()}
    except UnreadableFile:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise UnreadableFile(path, f"not a readable HDF5 file ({first})") from None
    return out[""] if groups is None else out


# what zipfile raises for a malformed archive: NotImplementedError for an unknown version or compression,
# RuntimeError when encrypted (found by tests/test_reader.py's fuzzing), the rest for a cut or flipped byte
ZIP_ERRORS = (OSError, ValueError, KeyError, EOFError, TypeError, NotImplementedError, RuntimeError)


def read_npz(path: str | Path, arrays: dict[str, Array], max_bytes: int = MAX_DATA, expand: int = 8) -> dict:
    """The arrays of an .npz file (no pickles), each checked from its header before it is read."""
    import zipfile

    import numpy as np

    st = regular_file(path, max_bytes)
    try:
        with zipfile.ZipFile(path) as z:
            members = {n.removesuffix(".npy"): n for n in z.namelist()}
            shapes, kinds, total = {}, {}, 0
            for key in arrays:
                if key not in members:
                    continue
                with z.open(members[key]) as h:
                    version = np.lib.format.read_magic(h)
                    header = np.lib.format.read_array_header_1_0 if version == (1, 0) else None
                    shape, _, dtype = (header or np.lib.format.read_array_header_2_0)(h)
                shapes[key], kinds[key] = shape, dtype.kind
                total += int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            _dims(path, "", arrays, shapes, kinds)
            if total > max(expand * st.st_size, 1 * MiB):
                raise UnreadableFile(path, f"its arrays would take {total} bytes, {expand}x more than the file")
            out = {}
            for key in arrays:
                with z.open(members[key]) as h:
                    out[key] = np.lib.format.read_array(h, allow_pickle=False)
            return out
    except UnreadableFile:
        raise
    except (
        OSError,
        zipfile.BadZipFile,
        ValueError,
        KeyError,
        EOFError,
        TypeError,
        NotImplementedError,
        RuntimeError,
        zlib.error,
    ) as e:
        # zipfile raises NotImplementedError for an unknown version or compression, RuntimeError when encrypted
        raise UnreadableFile(path, f"not a readable .npz file ({str(e)[:160] or type(e).__name__})") from None


# ------------------------------------------------------------------------------- minrnn's own formats

NUMBER = Field(float)
COUNT = Field(int, lo=0)
OBJECT = Field(dict)

# a run's metrics (minrnn.harness.trainer.fit, train.py's "final"): every key typed, so a summary whose
# metrics were edited into other types is refused before a replay or a table uses it. A diverged run's
# losses may be NaN or infinite (JSON's NaN/Infinity): metric values may be non-finite.
METRIC = Field(float, finite=False)
SECONDS = Field(float, lo=0, unit="s", required=False)
METRICS = Record(
    {
        "steps": Field(int, lo=0, required=False),
        "stop_reason": Field(str, required=False),
        "best_val": Field(float, finite=False, required=False),
        "best_step": Field(int, lo=0, required=False),
        "precision": Field(str, required=False),
        "val_history": Field(list, required=False, items=Record({"step": COUNT}, rest=METRIC)),
        "train_seconds_this_session": SECONDS,
        "train_seconds_all_stretches": SECONDS,
        "stretches": Field(
            list,
            required=False,
            items=Record(
                {
                    "from_step": COUNT,
                    "to_step": COUNT,
                    "seconds": Field(float, lo=0, unit="s"),
                    "commit": Field(str, nullable=True, required=False),
                }
            ),
        ),
        "final": Field(dict, required=False, items=Field((float, str), finite=False)),  # e.g. Table 3's rollouts
    },
    rest=METRIC,  # test_<metric>
)

# results/<task>/<scale>/<run>.json and run_dir/summary.json (minrnn.harness.train.train_and_record)
RESULT = Format(
    "minrnn.result",
    2,
    Record(
        {
            "format": Field(str, required=False),
            "config": Field(Record({s: Field(Record({"name": Field(str)})) for s in ("model", "task")})),
            "identity": Field(str, required=False),
            "provenance": Field(Record({"git_commit": Field(str, nullable=True)})),
            "seed": COUNT,
            "scale": Field(str),
            "run_name": Field(str, required=False),
            "run_dir": Field(str, required=False),
            "implementation": Field(str, required=False),
            "parameters": Field(int, lo=0, required=False),
            "wall_seconds": Field(float, lo=0, unit="s", required=False),
            "metrics": Field(METRICS),
        }
    ),
)

# run_dir/checkpoint.pt (minrnn.harness.trainer.Run.save); version 1 had no "format" key
CHECKPOINT = Format(
    "minrnn.checkpoint",
    2,
    Record(
        {
            "format": Field(str, required=False),
            "fingerprint": Field(str),
            "step": COUNT,
            "data_position": Field(int, lo=0, required=False),
            "model": OBJECT,
            "optimizer": OBJECT,
            "scheduler": OBJECT,
            "rng": OBJECT,
            "best": Field(float, required=False, default=-math.inf, finite=False),
            "best_step": Field(int, lo=0, required=False, default=0),
            "bad_evals": Field(int, lo=0, required=False, default=0),
            "history": Field(list, required=False, default=list, items=OBJECT),
            "best_model": Field(default=None, type=dict, required=False, nullable=True),
            "precision": Field(default=None, type=dict, required=False, nullable=True),
            "commit": Field(default=None, type=str, required=False, nullable=True),
            "stretches": Field(list, required=False, default=list, items=OBJECT),
        }
    ),
)

# one line of run_dir/metrics.jsonl (minrnn.harness.trainer.fit)
METRICS_LINE = Record({"step": COUNT})


_COMMIT = re.compile(r"([0-9a-f]{7,40})(-dirty)?")


def commit_of(value) -> tuple[str | None, bool]:
    """The inverse of minrnn.harness.records.git_commit: (the commit's hash, whether its tracked files had
    changes no commit holds) of a recorded ``provenance.git_commit``; (None, False) where it names none
    ('unknown', null)."""
    found = _COMMIT.fullmatch(value) if isinstance(value, str) else None
    return (found.group(1), bool(found.group(2))) if found else (None, False)


def short_commit(value, digits: int = 12) -> str:
    """A recorded ``provenance.git_commit`` as a report quotes it: ``digits`` hex digits, ``-dirty`` kept (the
    run had changes no commit holds), else 'unknown'. Every report quotes commits through this."""
    sha, dirty = commit_of(value)
    return "unknown" if sha is None else sha[:digits] + ("-dirty" if dirty else "")
