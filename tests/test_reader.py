"""The one reader (minrnn.reader): regular files only, bounded, depth-limited, checked against the writer's
schema, versioned formats migrated or refused, one error naming the file; no second reader in the tree;
and fuzzing of every format it reads (``make fuzz-files`` runs more examples: MINRNN_FUZZ_EXAMPLES)."""

from __future__ import annotations

import ast
import json
import os
import signal
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from test_files import snippets

from minrnn import reader
from minrnn.formats import CHECKPOINT, RESULT
from minrnn.reader import Field, Format, Record, UnreadableFile
from minrnn.tasks.download import DataError
from tasks import d4rl_data as D

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("MINRNN_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


# --------------------------------------------------------------------------- files that are not files


def test_a_fifo_a_folder_a_link_out_and_a_huge_file_are_refused_without_opening(tmp_path):
    fifo = tmp_path / "r.json"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes: the check comes first
    signal.alarm(10)
    try:
        with pytest.raises(UnreadableFile, match=r"r\.json: a FIFO \(named pipe\), not a regular file"):
            reader.read_json(fifo)
    finally:
        signal.alarm(0)
    (tmp_path / "d.json").mkdir()
    with pytest.raises(UnreadableFile, match=r"d\.json: a folder"):
        reader.read_json(tmp_path / "d.json")
    secret = tmp_path / "secret.json"
    secret.write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "r.json").symlink_to(secret)
    with pytest.raises(UnreadableFile, match="a symbolic link out of its folder"):
        reader.read_json(tmp_path / "sub" / "r.json")
    (tmp_path / "sub" / "inside.json").write_text('{"a": 1}')
    (tmp_path / "sub" / "link.json").symlink_to("inside.json")
    assert reader.read_json(tmp_path / "sub" / "link.json") == {"a": 1}  # a link inside its folder is fine
    (tmp_path / "big.json").write_bytes(b" " * 101)
    with pytest.raises(UnreadableFile, match="101 bytes, more than the 100"):
        reader.read_json(tmp_path / "big.json", max_bytes=100)
    with pytest.raises(UnreadableFile, match="nope.json: not found"):
        reader.read_json(tmp_path / "nope.json")


def test_deep_nesting_is_one_message_not_a_recursion_error(tmp_path):
    for depth in (65, 100_000):
        (tmp_path / "deep.json").write_text("[" * depth + "]" * depth)
        with pytest.raises(UnreadableFile, match=r"deep\.json: JSON nested deeper than 64 levels"):
            reader.read_json(tmp_path / "deep.json")
    (tmp_path / "ok.json").write_text("[" * 64 + "]" * 64)
    assert reader.read_json(tmp_path / "ok.json") is not None


def test_a_schema_names_the_field_its_value_and_what_is_allowed(tmp_path):
    schema = Record(
        {"lr": Field(float, lo=0, unit="per step"), "kind": Field(str, choices=("a", "b")), "n": Field(int)}
    )
    cases = {
        '{"lr": -1, "kind": "a", "n": 1}': r"lr: is -1 per step, outside \[0, inf\] per step",
        '{"lr": 1, "kind": "c", "n": 1}': r"kind: is 'c', not one of 'a', 'b'",
        '{"lr": 1, "kind": "a", "n": true}': r"n: is bool True, not an integer",
        '{"lr": NaN, "kind": "a", "n": 1}': r"lr: is nan per step, not a finite number",
        '{"lr": 1, "kind": "a"}': r"n: missing",
        "[1]": r"is list, not an object",
    }
    for text, why in cases.items():
        (tmp_path / "s.json").write_text(text)
        with pytest.raises(UnreadableFile, match=r"s\.json: " + why):
            reader.read_json(tmp_path / "s.json", schema)


# ------------------------------------------------------------------------------- versioned formats


def checkpoint(**extra) -> dict:
    return {"fingerprint": "f", "step": 3, "model": {}, "optimizer": {}, "scheduler": {}, "rng": {}, **extra}


def test_an_older_checkpoint_is_migrated_naming_the_defaults(tmp_path, capsys):
    torch.save(checkpoint(best=0.5, best_step=2, history=[]), tmp_path / "checkpoint.pt")  # no format, no bad_evals
    ckpt = reader.read_torch(tmp_path / "checkpoint.pt", CHECKPOINT)
    assert ckpt["bad_evals"] == 0 and ckpt["best_model"] is None and ckpt["stretches"] == []
    err = capsys.readouterr().err
    assert "checkpoint.pt: minrnn.checkpoint/1 read as minrnn.checkpoint/2" in err and "bad_evals=0" in err


def test_a_newer_or_foreign_format_is_refused_naming_the_file_and_version(tmp_path):
    torch.save(checkpoint(format="minrnn.checkpoint/9"), tmp_path / "c.pt")
    with pytest.raises(UnreadableFile, match=r"c\.pt: format minrnn\.checkpoint/9 was written by a newer minrnn"):
        reader.read_torch(tmp_path / "c.pt", CHECKPOINT)
    (tmp_path / "r.json").write_text(json.dumps({"format": "other/1"}))
    with pytest.raises(UnreadableFile, match=r"r\.json: format 'other/1' is not minrnn\.result/<version>"):
        reader.read_json(tmp_path / "r.json", RESULT)
    old = Format("x", 3, Record({}), oldest=2)
    (tmp_path / "o.json").write_text(json.dumps({"format": "x/1"}))
    with pytest.raises(UnreadableFile, match=r"o\.json: format x/1 is older than this minrnn reads \(x/2\+\)"):
        reader.read_json(tmp_path / "o.json", old)


def test_a_resume_from_a_checkpoint_without_bad_evals_goes_on(tmp_path):
    """Issue 34's case: an older checkpoint (a key missing) ended in KeyError: 'bad_evals'."""
    from minrnn.harness.trainer import TrainingError, load_checkpoint

    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    rng = {"torch": torch.get_rng_state(), "python": list(__import__("random").getstate()[1])}
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "rng": rng}
    torch.save({**checkpoint(), **state, "best": 1.0, "history": []}, tmp_path / "checkpoint.pt")
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt", model, opt, sched, "f")
    assert ckpt["bad_evals"] == 0 and ckpt["best_step"] == 0
    torch.save({**checkpoint(), **state, "step": "3"}, tmp_path / "checkpoint.pt")
    with pytest.raises(
        TrainingError, match=r"cannot read checkpoint .*checkpoint\.pt: step: is str '3', not an integer"
    ):
        load_checkpoint(tmp_path / "checkpoint.pt", model, opt, sched, "f")


def test_a_new_summary_field_changes_no_committed_runs_identity():
    from minrnn.harness.config import run_identity

    paths = sorted((REPO / "results").rglob("*.json"))[:200]
    checked = 0
    for path in paths:
        rec = json.loads(path.read_text())
        if not isinstance(rec, dict) or "config" not in rec or "identity" not in rec:
            continue
        assert run_identity({**rec, "format": RESULT.tag}, path) == run_identity(rec, path)
        assert reader.read_json(path, RESULT)["config"] == rec["config"]  # every committed summary reads
        checked += 1
    assert checked > 10


# ------------------------------------------------------------------------------------------ data files


def write_d4rl(path, n=6, obs=(6, 3), act=(6, 2), rewards=(6,), drop=(), lengths=None):
    with h5py.File(path, "w") as f:
        arrays = {
            "observations": np.zeros(obs),
            "actions": np.zeros(act),
            "rewards": np.zeros(rewards),
            "terminals": np.eye(1, n, n - 1, dtype=bool)[0],
            "timeouts": np.zeros(n, bool),
        }
        for k, v in arrays.items():
            if k not in drop:
                f[k] = v


@pytest.mark.parametrize(
    "plant, why",
    [
        (lambda p: write_d4rl(p, drop=("rewards", "timeouts")), r"missing datasets rewards, timeouts"),
        (lambda p: write_d4rl(p, rewards=(6, 2)), r"dataset rewards has shape \(6, 2\), not 1-dimensional"),
        (lambda p: write_d4rl(p, act=(5, 2)), r"dataset actions has shape \(5, 2\), which does not match observations"),
        (lambda p: write_d4rl(p, obs=(6,)), r"dataset observations has shape \(6,\), not 2-dimensional"),
        (lambda p: (write_d4rl(p), p.write_bytes(p.read_bytes()[:300])), r"not a readable HDF5 file"),
        (lambda p: p.write_bytes(b""), r"not a readable HDF5 file"),
    ],
)
def test_malformed_d4rl_files_are_one_message_naming_them(tmp_path, plant, why):
    path = tmp_path / "hopper_medium-v2.hdf5"
    plant(path)
    before = path.read_bytes()
    with pytest.raises(DataError, match=r"hopper_medium-v2\.hdf5: " + why):
        D.read_d4rl(path)
    assert path.read_bytes() == before


def test_malformed_minari_files_are_one_message_naming_them(tmp_path):
    path = tmp_path / "main_data.hdf5"
    with h5py.File(path, "w") as f:
        g = f.create_group("episode_0")
        g["observations"], g["actions"] = np.zeros((4, 3)), np.zeros((3, 2))
        g["rewards"], g["terminations"] = np.zeros(3), np.zeros(3, bool)
        f.create_group("episode_1")["actions"] = np.zeros((2, 2))
    with pytest.raises(DataError, match=r"main_data\.hdf5: missing datasets episode_1/observations"):
        D.read_minari(path)
    with h5py.File(path, "a") as f:
        del f["episode_1"]
        f["episode_0/observations"][...] = 1
        del f["episode_0/rewards"]
        f["episode_0/rewards"] = np.zeros(2)
    with pytest.raises(DataError, match=r"episode_0/rewards has shape \(2,\), which does not match"):
        D.read_minari(path)


# ------------------------------------------------------------------------- no second reader in the tree

# Calls that read a file. Each one outside minrnn/reader.py and minrnn/formats.py (the one reader and its
# array readers) is listed here with why it is not a saved file's read; an entry the check no longer finds
# fails the test (nothing stays allowed after its read is gone).
READERS = {"read_text", "read_bytes", "load", "loads", "File", "Unpickler"}
ALLOWED = {
    # the kernel's /proc files, not saved files: the CPU's flags (native, grid), the memory (records,
    # schema), the umask (files: the one writer reads it to give the mode open() would)
    ("minrnn/ops/native.py", "open"),
    ("minrnn/harness/records.py", "open"),
    ("minrnn/harness/schema.py", "open"),
    ("minrnn/bench/grid.py", "open"),
    ("minrnn/files.py", ".read_text"),
    # the package's own C sources, hashed into the kernel cache's name: source code, not a saved file
    ("minrnn/ops/native.py", ".read_bytes"),
    # a worker's one line of JSON on its stdout and a job given on the command line: text, not files
    ("minrnn/bench/grid.py", "json.loads"),
    # the one writer opens the folders it wrote to fsync them (O_RDONLY on a folder: nothing is read)
    ("minrnn/files.py", "os.open"),
    # the D4RL writer (write_d4rl) opens the one writer's temporary file, for writing
    ("tasks/d4rl_data.py", "h5py.File"),
    # the CIFAR-10 tar as downloaded: its md5 checked first, unpacked with tarfile's "data" filter (no
    # links out, no devices); the batches it holds are then read through reader.read_pickle
    ("tasks/gimage.py", "tarfile.open"),
}


def reads(tree: ast.AST):
    """(line, what) for each call that reads a file: open() not for writing, .read_text/.read_bytes,
    json.load(s), torch.load, np.load, pickle.load(s)/Unpickler, h5py.File, csv.DictReader, OmegaConf.load."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        receiver = ast.unparse(f.value) if isinstance(f, ast.Attribute) else ""
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        if name == "open" and not receiver or (name == "open" and receiver in ("tarfile", "io", "os")):
            modes = [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "mode")]
            constants = [c for m in modes for c in ast.walk(m) if isinstance(c, ast.Constant)]
            writes = any(set(str(c.value)) & set("wax+") for c in constants)
            if not writes or name == "open" and receiver == "tarfile":
                yield node.lineno, f"{receiver}.open" if receiver else "open"
        elif name in ("read_text", "read_bytes") and isinstance(f, ast.Attribute) and receiver != "reader":
            yield node.lineno, f".{name}"
        elif name in READERS and receiver in ("json", "torch", "np", "numpy", "pickle", "h5py", "csv", "OmegaConf"):
            yield node.lineno, f"{receiver}.{name}"


def test_there_is_no_second_reader():
    found, seen = [], set()
    for folder in ("minrnn", "tasks", "baselines", "scripts"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = str(path.relative_to(REPO))
            if rel in ("minrnn/reader.py", "minrnn/formats.py"):
                continue  # the reader itself and its array readers
            for line, name in reads(ast.parse(path.read_text())):
                seen.add((rel, name))
                if (rel, name) not in ALLOWED:
                    found.append(f"{rel}:{line} {name}")
    assert not found, "read through minrnn.reader instead:\n" + "\n".join(found)
    assert not ALLOWED - seen, f"allowed reads no longer in the tree (remove them from ALLOWED): {ALLOWED - seen}"


def test_the_reader_check_finds_a_planted_reader():
    planted = (
        "import json, torch, h5py\ndef f(p):\n    a = json.loads(p.read_text())\n    b = torch.load(p)\n"
        "    c = h5py.File(p, 'r')\n    d = open(p)\n    open(p, 'w')\n"
    )
    assert sorted(name for _, name in reads(ast.parse(planted))) == [
        ".read_text",
        "h5py.File",
        "json.loads",
        "open",
        "torch.load",
    ]


PLANTED = {  # a direct read, and what reads() names it
    "json.loads(p.read_text())": [".read_text", "json.loads"],
    "torch.load(p, weights_only=True)": ["torch.load"],
    "np.load(p)": ["np.load"],
    "pickle.load(f)": ["pickle.load"],
    "h5py.File(p, 'r')": ["h5py.File"],
    "open(p)": ["open"],
    "open(p, 'rb')": ["open"],
    "open(p, mode='r', newline='')": ["open"],
    "io.open(p)": ["io.open"],
    "tarfile.open(p)": ["tarfile.open"],
    "p.read_bytes()": [".read_bytes"],
    "OmegaConf.load(p)": ["OmegaConf.load"],
}
HARMLESS = [  # reads through the one reader, writes, and look-alikes that read nothing
    "x = reader.read_json(p)",
    "t = reader.read_text(p)",
    "open(p, 'w').close()",
    "open(p, 'a' if resume else 'w')",
    "s = text.replace('a', 'b')",
    "d = {k: v for k, v in rows.items()}",
    "n = len(p.name)",
]


@FUZZ
@given(case=snippets(PLANTED, HARMLESS))
def test_any_planted_direct_read_is_found_on_its_line(case):
    """Wherever a direct read sits among reads through the reader, writes and look-alikes, reads() names
    it, on its line, and nothing else."""
    source, line, planted = case
    assert sorted(reads(ast.parse(source))) == sorted((line, name) for name in PLANTED[planted])
