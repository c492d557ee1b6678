"""Fuzzing of every format the one reader reads (minrnn.reader, minrnn.formats): a mutated file gives the
right value or one UnreadableFile naming it; never another exception, a hang or a changed file
(``make fuzz-files`` runs more examples: MINRNN_FUZZ_EXAMPLES)."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import pickle
import signal
import struct
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_reader import checkpoint, write_d4rl

from minrnn import formats, reader
from minrnn.formats import CHECKPOINT, RESULT, Array
from minrnn.reader import UnreadableFile
from minrnn.tasks.download import DataError
from tasks import d4rl_data as D

EXAMPLES = int(os.environ.get("MINRNN_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


# ------------------------------------------------------------------------------------------- fuzzing


def mutate(data: bytes, how: str, at: int, byte: int) -> bytes:
    """One mutation of a valid file: truncated, a byte flipped, a byte inserted, a run of it repeated."""
    i = at % (len(data) + 1)
    if how == "truncate":
        return data[:i]
    if how == "flip":
        return data[:i] + bytes([(data[i] if i < len(data) else 0) ^ (byte or 1)]) + data[i + 1 :]
    if how == "insert":
        return data[:i] + bytes([byte]) + data[i:]
    return data[:i] + data[i : i + 64] * 50 + data[i:]  # "repeat": a file far larger than its content


MUTATION = st.tuples(
    st.sampled_from(["truncate", "flip", "insert", "repeat"]), st.integers(0, 1 << 20), st.integers(0, 255)
)


def fuzz(path: Path, read, expect):
    """The property: the reader returns what ``expect`` accepts, or raises UnreadableFile (or the task's
    DataError) naming the file; never another exception, and the file is unchanged."""
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    signal.alarm(30)  # never a hang
    try:
        value = read(path)
    except (UnreadableFile, DataError) as e:
        assert path.name in str(e), e
    else:
        assert expect(value), value
    finally:
        signal.alarm(0)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


SUMMARY = {
    "format": RESULT.tag,
    "config": {"model": {"name": "mingru"}, "trainer": {"lr": 0.001}},
    "identity": "abcd1234",
    "provenance": {"git_commit": "0" * 40},
    "seed": 1,
    "scale": "cpu",
    "wall_seconds": 12.5,
    "metrics": {"test_acc": 0.9, "val_history": [{"step": 1, "val_acc": 0.5}]},
}


def summary_ok(v) -> bool:
    return (
        isinstance(v["seed"], int)
        and v["seed"] >= 0
        and isinstance(v["config"], dict)
        and isinstance(v["metrics"], dict)
    )


@FUZZ
@given(mutation=MUTATION)
def test_fuzz_summary_bytes(tmp_path_factory, mutation):
    path = tmp_path_factory.mktemp("f") / "run.json"
    path.write_bytes(mutate(json.dumps(SUMMARY).encode(), *mutation))
    fuzz(path, lambda p: reader.read_json(p, RESULT, max_bytes=4096), summary_ok)


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10,
)


@FUZZ
@given(key=st.sampled_from(sorted(SUMMARY)), value=JSON_VALUE, depth=st.sampled_from([0, 0, 70, 5000]))
def test_fuzz_summary_fields(tmp_path_factory, key, value, depth):
    """A wrong type, an out-of-range value or deep nesting in each field of a summary."""
    path = tmp_path_factory.mktemp("f") / "run.json"
    rec = {**SUMMARY, key: value}
    text = json.dumps(rec, allow_nan=True)
    if depth:
        text = text.replace(json.dumps(SUMMARY["scale"]), "[" * depth + "1" + "]" * depth, 1)
    path.write_text(text)
    fuzz(path, lambda p: reader.read_json(p, RESULT), summary_ok)


@FUZZ
@given(mutation=MUTATION)
def test_fuzz_metrics_log(tmp_path_factory, mutation):
    path = tmp_path_factory.mktemp("f") / "metrics.jsonl"
    path.write_bytes(
        mutate(b"".join(json.dumps({"step": s, "loss": 1.0 / s}).encode() + b"\n" for s in (1, 2, 3)), *mutation)
    )

    def ok(v):
        records, dropped = v
        return all(isinstance(r["step"], int) and r["step"] >= 0 for r in records) and dropped >= 0

    fuzz(path, lambda p: reader.read_jsonl(p, formats.METRICS_LINE), ok)


@FUZZ
@given(mutation=MUTATION)
def test_fuzz_tsv(tmp_path_factory, mutation):
    path = tmp_path_factory.mktemp("f") / "new_aan_pairs.test.tsv"
    path.write_bytes(mutate(b"1\ta\tb\thello\tworld\n0\tc\td\tfoo\tbar\n", *mutation))
    from tasks.retrieval import read_tsv

    fuzz(path, read_tsv, lambda rows: all(isinstance(r[0], int) and len(r) == 3 for r in rows))


CKPT_BYTES = None


def checkpoint_bytes() -> bytes:
    global CKPT_BYTES
    if CKPT_BYTES is None:
        buf = io.BytesIO()
        torch.save({**checkpoint(), "format": CHECKPOINT.tag, "model": {"w": torch.ones(2, 2)}, "best": -math.inf}, buf)
        CKPT_BYTES = buf.getvalue()
    return CKPT_BYTES


@FUZZ
@given(mutation=MUTATION)
def test_fuzz_checkpoint_bytes(tmp_path_factory, mutation):
    path = tmp_path_factory.mktemp("f") / "checkpoint.pt"
    path.write_bytes(mutate(checkpoint_bytes(), *mutation))
    fuzz(
        path,
        lambda p: reader.read_torch(p, CHECKPOINT),
        lambda c: isinstance(c["step"], int) and isinstance(c["model"], dict),
    )


@FUZZ
@given(key=st.sampled_from(sorted(CHECKPOINT.record.fields)), value=JSON_VALUE)
def test_fuzz_checkpoint_fields(tmp_path_factory, key, value):
    path = tmp_path_factory.mktemp("f") / "checkpoint.pt"
    torch.save({**checkpoint(), key: value}, path)
    fuzz(
        path,
        lambda p: reader.read_torch(p, CHECKPOINT),
        lambda c: isinstance(c["bad_evals"], int) and c["bad_evals"] >= 0,
    )


D4RL_BYTES = None


@FUZZ
@given(mutation=MUTATION)
def test_fuzz_d4rl_bytes(tmp_path_factory, mutation):
    global D4RL_BYTES
    folder = tmp_path_factory.mktemp("f")
    if D4RL_BYTES is None:
        write_d4rl(folder / "x.hdf5")
        D4RL_BYTES = (folder / "x.hdf5").read_bytes()
    path = folder / "hopper_medium-v2.hdf5"
    path.write_bytes(mutate(D4RL_BYTES, *mutation))
    fuzz(path, D.read_d4rl, lambda eps: all(e.observations.shape[0] == len(e.actions) == len(e) for e in eps))


@FUZZ
@given(
    sizes=st.tuples(*[st.integers(0, 4)] * 5),
    widths=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    ndims=st.tuples(*[st.integers(1, 3)] * 5),
    dtype=st.sampled_from(["f4", "f8", "i4", "u1", "?", "S3"]),
)
def test_fuzz_d4rl_shapes(tmp_path_factory, sizes, widths, ndims, dtype):
    """Any lengths, widths, ranks and dtypes of the five datasets: the episodes or one message."""
    path = tmp_path_factory.mktemp("f") / "hopper_medium-v2.hdf5"
    with h5py.File(path, "w") as f:
        for k, n, nd in zip(D.KEYS, sizes, ndims, strict=True):
            f[k] = np.zeros((n, *widths[: nd - 1]), dtype=dtype)
    fuzz(path, D.read_d4rl, lambda eps: all(e.observations.shape[0] == len(e.actions) == len(e) for e in eps))


CIFAR = {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 9]}


@FUZZ
@given(mutation=MUTATION, protocol=st.sampled_from([2, 4, 5]))
def test_fuzz_cifar_batch(tmp_path_factory, mutation, protocol):
    from tasks.gimage import read_batch

    path = tmp_path_factory.mktemp("f") / "data_batch_1"
    path.write_bytes(mutate(pickle.dumps(CIFAR, protocol=protocol), *mutation))
    fuzz(path, read_batch, lambda v: v[0].shape[1:] == (3, 32, 32) and len(v[0]) == len(v[1]))


@pytest.mark.parametrize(
    "op,arg",
    [(b"r", struct.pack("<I", 2490982770)), (b"B", struct.pack("<I", 2**31 - 1)), (b"\x8e", struct.pack("<Q", 2**40))],
    ids=["memo index 2490982770", "BINBYTES of 2 GiB", "BINBYTES8 of 1 TiB"],
)
def test_a_size_in_a_pickle_is_checked_before_it_is_allocated(tmp_path, op, arg):
    """What a seed of test_fuzz_cifar_batch found (an xdist worker grew to 7.5 GB and died): a memo index
    or a length far past the file is refused by the opcode scan before the unpickler allocates it."""
    from tasks.gimage import read_batch

    path = tmp_path / "data_batch_1"
    path.write_bytes(b"\x80\x04" + b"K\x01" + op + arg + b".")
    with pytest.raises(DataError, match=r"data_batch_1 is not a CIFAR-10 python batch \(.*not a pickle"):
        read_batch(path)


@FUZZ
@given(mutation=MUTATION)
def test_fuzz_npz(tmp_path_factory, mutation):
    folder = tmp_path_factory.mktemp("f")
    buf = io.BytesIO()
    np.savez(buf, x=np.arange(12.0).reshape(4, 3), y=np.arange(4))
    path = folder / "arrays.npz"
    path.write_bytes(mutate(buf.getvalue(), *mutation))
    spec = {"x": Array("f", ("n", 3)), "y": Array("iu", ("n",))}
    fuzz(path, lambda p: formats.read_npz(p, spec), lambda v: v["x"].shape == (len(v["y"]), 3))


@FUZZ
@given(kind=st.sampled_from(["fifo", "dir", "link-out", "link-loop", "empty", "huge"]), fmt=st.sampled_from(range(5)))
def test_fuzz_what_is_not_a_file(tmp_path_factory, kind, fmt):
    """Every format's reader, given a FIFO, a folder, a link out, a loop of links, an empty or a huge file."""
    from tasks.gimage import read_batch
    from tasks.retrieval import read_tsv

    folder = tmp_path_factory.mktemp("f")
    path = folder / "sub" / "file"
    path.parent.mkdir()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        path.mkdir()
    elif kind == "link-out":
        (folder / "target").write_text("{}")
        path.symlink_to(folder / "target")
    elif kind == "link-loop":
        path.symlink_to(path)
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        with open(path, "wb") as f:
            f.truncate(9 * 2**20)  # sparse: larger than a summary may be
    readers = [
        lambda p: reader.read_json(p, RESULT),
        lambda p: reader.read_torch(p, CHECKPOINT, max_bytes=2**20),
        D.read_d4rl,
        read_batch,
        read_tsv,
    ]
    before = os.lstat(path)
    signal.alarm(30)  # a FIFO must not hang a reader
    try:
        value = readers[fmt](path)
    except (UnreadableFile, DataError) as e:
        assert "file" in str(e), e
    else:
        assert kind == "empty" and value == [], value  # an empty TSV file has no rows
    finally:
        signal.alarm(0)
    after = os.lstat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
