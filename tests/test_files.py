"""The one writer (minrnn.files): atomic, durable, mode from the umask, contained in its root, no leftovers;
and no second writer anywhere in the tree."""

from __future__ import annotations

import ast
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minrnn import files

REPO = Path(__file__).resolve().parents[1]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@FAST
@given(data=st.binary(max_size=4096), mask=st.sampled_from([0o002, 0o022, 0o027, 0o077, 0o000]))
def test_a_write_is_whole_and_shared_by_the_umask(tmp_path, data, mask):
    old = os.umask(mask)
    try:
        target = files.write_bytes(tmp_path / "sub" / "f.bin", data)
    finally:
        os.umask(old)
    assert target.read_bytes() == data
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert listing(tmp_path) == ["sub", "sub/f.bin"]  # no temporary file outlives the writer


@FAST
@given(old=st.binary(min_size=1, max_size=256), new=st.binary(max_size=256))
def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path, old, new):
    target = tmp_path / "result.json"
    files.write_bytes(target, old)
    with pytest.raises(RuntimeError), files.atomic_path(target) as tmp:
        tmp.write_bytes(new)
        raise RuntimeError("the disk filled up")
    assert target.read_bytes() == old
    assert listing(tmp_path) == ["result.json"]


NAME = st.lists(st.sampled_from(["..", ".", "a", "b", "/", "x.json", "", "~", "%2e%2e"]), min_size=1, max_size=8).map(
    "/".join
)


@FAST
@given(name=NAME)
def test_a_name_never_writes_outside_its_root(tmp_path, name):
    root, outside = tmp_path / "results", tmp_path / "elsewhere"
    root.mkdir(exist_ok=True)
    outside.mkdir(exist_ok=True)
    before = listing(outside)
    try:
        target = files.write_text(Path(name) / "r.json", "{}", root=root)
    except files.PathError as e:
        assert "outside" in str(e)
    else:
        assert root.resolve() in target.resolve().parents or target.resolve().parent == root.resolve()
    assert listing(outside) == before
    assert not (tmp_path / "r.json").exists()


def test_a_link_out_of_the_root_is_refused(tmp_path):
    root = tmp_path / "results"
    root.mkdir()
    (root / "out").symlink_to(tmp_path)
    with pytest.raises(files.PathError):
        files.write_text("out/x.json", "{}", root=root)
    assert not (tmp_path / "x.json").exists()


def test_a_failed_folder_save_keeps_the_old_folder(tmp_path):
    target = tmp_path / "model"
    files.replace_dir(target, lambda d: (d / "w").write_bytes(b"old"))

    def half(d: Path) -> None:
        (d / "w").write_bytes(b"new")
        raise OSError("no space left on device")

    with pytest.raises(OSError):
        files.replace_dir(target, half)
    assert listing(tmp_path) == ["model", "model/w"]
    assert (target / "w").read_bytes() == b"old"
    files.replace_dir(target, lambda d: (d / "v").write_bytes(b"new"))
    assert listing(tmp_path) == ["model", "model/v"]  # the old folder's files are gone with it


def test_write_json_refuses_what_json_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="not JSON"):
        files.write_json(tmp_path / "r.json", {"x": object()})
    assert listing(tmp_path) == []


# Calls that write a file. Every one outside minrnn/files.py either writes the temporary path that
# ``with files.atomic_path(...) as tmp`` yields, or is listed here with why; an entry the check no longer
# finds fails the test.
WRITERS = {"write_text", "write_bytes", "savefig", "mkstemp", "to_csv", "rename", "touch", "extractall"}
ALLOWED = {
    # an append-only log of one line per evaluation (mode "a" on resume, else "w"): appended to while the
    # run goes on, so it cannot be renamed into place; a torn last line is dropped on resume
    # (reader.read_jsonl; docs/reliability.md)
    ("minrnn/harness/trainer.py", "open"),
    # the lock file of a run folder: opened ("a+") to hold an fcntl lock on it, which needs the open file
    # itself; it holds the holder's pid, read only to name the holder
    ("minrnn/harness/run_lock.py", "open"),
    # ptxas's input, in a TemporaryDirectory that is removed with it: never a saved file
    ("minrnn/triton_targets.py", ".write_text"),
}


def writes(tree: ast.AST):
    """(line, what) for each call that writes a file other than an atomic_path's temporary one."""
    temporary = {  # names bound by `with atomic_path(...) as name`
        item.optional_vars.id
        for node in ast.walk(tree)
        if isinstance(node, ast.With)
        for item in node.items
        if isinstance(item.optional_vars, ast.Name) and "atomic_path" in ast.unparse(item.context_expr)
    } | {  # and the new folder `replace_dir(path, lambda name: ...)` fills before it is put in place
        a.arg
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("replace_dir")
        for fill in node.args
        if isinstance(fill, ast.Lambda)
        for a in fill.args.args
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if not isinstance(f, ast.Attribute) and getattr(f, "id", "") != "open":
            continue  # a plain function: minrnn.files' own write_text and friends
        receiver = ast.unparse(f.value) if isinstance(f, ast.Attribute) else ""
        args = [ast.unparse(a) for a in node.args]
        name = f.attr if isinstance(f, ast.Attribute) else "open"
        under = f.value if isinstance(f, ast.Attribute) else None
        while isinstance(under, ast.BinOp) and isinstance(under.op, ast.Div):  # tmp / "name": a file in it
            under = under.left
        if receiver in temporary or set(args) & temporary or getattr(under, "id", None) in temporary:
            continue
        if name in WRITERS:
            yield node.lineno, f".{name}" if name in ("write_text", "write_bytes") else name
        elif name == "replace" and (receiver == "os" or len(node.args) == 1):  # not str.replace(old, new)
            yield node.lineno, "replace"
        elif name == "save" and receiver == "torch":
            yield node.lineno, "torch.save"
        elif (
            name == "open"
            and any(  # every constant of the mode: `"a" if resuming else "w"` too
                isinstance(c, ast.Constant) and isinstance(c.value, str) and set(c.value) & set("wax")
                for m in [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "mode")]
                for c in ast.walk(m)
            )
        ):
            yield node.lineno, "open"


def test_there_is_no_second_writer():
    found, seen = [], set()
    for folder in ("minrnn", "tasks", "baselines", "scripts"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = str(path.relative_to(REPO))
            if rel == "minrnn/files.py":
                continue
            for line, name in writes(ast.parse(path.read_text())):
                seen.add((rel, name))
                if (rel, name) not in ALLOWED:
                    found.append(f"{rel}:{line} {name}")
    assert not found, "write through minrnn.files instead:\n" + "\n".join(found)
    assert not ALLOWED - seen, f"allowed writes no longer in the tree (remove them from ALLOWED): {ALLOWED - seen}"


def test_the_writer_check_finds_a_planted_writer():
    planted = "import os\ndef save(p, t):\n    open(p + '.tmp', 'w').write(t)\n    os.replace(p + '.tmp', p)\n"
    assert sorted(name for _, name in writes(ast.parse(planted))) == ["open", "replace"]


PLANTED = {  # a direct write, and what writes() names it
    "open(p, 'w').write(t)": "open",
    "open(p, mode='ab')": "open",
    "open(p, 'a' if resume else 'w')": "open",
    "p.write_text(t)": ".write_text",
    "p.write_bytes(b)": ".write_bytes",
    "os.replace(a, b)": "replace",
    "torch.save(x, p)": "torch.save",
    "fig.savefig(p)": "savefig",
    "df.to_csv(p)": "to_csv",
    "p.touch()": "touch",
    "tar.extractall(d)": "extractall",
}
HARMLESS = [  # writes through the one writer, reads, and look-alikes that write nothing
    "write_text(p, t)",
    "files.write_json(p, obj)",
    "open(p)",
    "s = t.replace('a', 'b')",
    "replace_dir(p, lambda new: (new / 'w').write_bytes(b))",  # (the exemption goes by name, file-wide)
    "x = reader.read_text(p)",
]


NESTS = ["{}", "def f(p):\n    {}", "with lock:\n    {}", "if ok:\n    pass\nelse:\n    y = [{}]"]


def snippets(planted: dict, harmless: list) -> st.SearchStrategy:
    """(source, line, key): a key of ``planted`` (a statement) nested on ``line`` among ``harmless`` lines."""

    def build(before, after, key, nest):
        return "\n".join([*before, nest.format(key), *after]), len(before) + nest.count("\n") + 1, key

    lines = st.lists(st.sampled_from(harmless), max_size=6)
    return st.builds(build, lines, lines, st.sampled_from(sorted(planted)), st.sampled_from(NESTS))


@FAST
@given(case=snippets(PLANTED, HARMLESS))
def test_any_planted_direct_write_is_found_on_its_line(case):
    """Wherever a direct write sits among writes through minrnn.files, reads and look-alikes, writes()
    names it, on its line, and nothing else."""
    source, line, planted = case
    assert list(writes(ast.parse(source))) == [(line, PLANTED[planted])]
