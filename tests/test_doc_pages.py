"""Docs that run (issue #36): every fenced block of README.md and docs/*.md is run or checked, as its
annotation says (tests/doc_pages.py); a block that is neither fails here, and so does a broken one."""

import re
from pathlib import Path

import pytest
from doc_pages import (
    PAGES,
    ROOT,
    SHELL,
    blocks,
    check_shell,
    check_span,
    check_static,
    record_calls,
    run_python,
    run_shell,
    spans,
    write_files,
)

BLOCKS = [b for page in PAGES for b in blocks(page)]
SPANS = list({b.text: b for page in PAGES for b in spans(page)}.values())  # each inline command once
RUN_PAGES = [p for p in PAGES if any(b.kind == "run" and b.lang == "python" for b in blocks(p))]


def run_page(page: Path, tmp: Path):
    """The page's Python blocks marked run, one after another in one fresh interpreter, in a tmp dir."""
    write_files(page, tmp)
    code = "\n".join(b.text for b in blocks(page) if b.kind == "run" and b.lang == "python")
    return run_python(code, tmp)


@pytest.mark.parametrize("page", RUN_PAGES, ids=[str(p.relative_to(ROOT)) for p in RUN_PAGES])
def test_the_python_blocks_of_each_page_run_in_a_fresh_interpreter(page, tmp_path):
    done = run_page(page, tmp_path)
    assert done.returncode == 0, f"{page.name}: {done.stderr[-3000:]}"


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang != "python" or b.kind != "run"], ids=lambda b: b.name)
def test_every_other_block_is_checked_and_a_shell_block_marked_run_runs(block, tmp_path):
    check_static(block, tmp_path)
    if block.kind == "run":
        done = run_shell(block.text, tmp_path)
        assert done.returncode == 0, f"{block.name}: {done.stderr[-3000:]}"


@pytest.mark.parametrize("span", SPANS, ids=lambda b: f"{b.name} {b.text}")
def test_every_command_written_inline_in_prose_is_checked(span, tmp_path):
    check_span(span, tmp_path)


def test_every_recipe_names_a_test_that_exists_and_reads_its_page():
    recipes = [b for b in BLOCKS if b.kind == "recipe"]
    assert len(recipes) >= 4  # extending.md: the model, the layer, the task, the backend
    for b in recipes:
        file, _, name = b.arg.partition("::")
        text = (ROOT / file).read_text()
        assert re.search(rf"^def {re.escape(name)}\(", text, re.M), f"{b.name}: no test {b.arg}"
        assert b.page.name in text, f"{b.name}: {file} does not read {b.page.name}"


def test_every_file_a_page_writes_is_used_by_a_recipe_of_the_page():
    for page in PAGES:
        kinds = {b.kind for b in blocks(page)}
        assert "file" not in kinds or "recipe" in kinds, f"{page.name}: files that no recipe runs"


def test_the_page_set_is_every_markdown_page():
    assert {p.name for p in PAGES} == {"README.md", *(p.name for p in (ROOT / "docs").glob("*.md"))}
    assert sum(b.lang in SHELL for b in BLOCKS) >= 10 and sum(b.lang == "python" for b in BLOCKS) >= 8
    assert len(SPANS) >= 50


# ---- plants: a broken block fails ------------------------------------------------------------------------------


def plant(tmp_path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(text)
    return page


@pytest.mark.parametrize(
    "text, message",
    [
        ("```bash\nmake test\n```\n", "a bash block that no test runs or checks: annotate it"),
        ("```\nminrnn/\n```\n", "a plain block that no test runs or checks"),
        ("<!-- doc-block: not-run -->\n```bash\nmake test\n```\n", "needs its reason in parentheses"),
        ("<!-- doc-block: recipe -->\n```bash\nmake test\n```\n", "needs a test"),
        ("<!-- doc-block: nope -->\n```bash\nmake test\n```\n", "unreadable annotation"),
        ("<!-- doc-block: run -->\n```yaml\na: 1\n```\n", "only Python and shell blocks can be run"),
    ],
)
def test_a_block_without_a_readable_annotation_is_refused(tmp_path, text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        blocks(plant(tmp_path, text))


def test_a_python_block_that_raises_fails_its_page(tmp_path):
    page = plant(tmp_path, "```python\nimport torch\nx = torch.ones(2)\n```\n\n```python\ny = layer(x)\n```\n")
    done = run_page(page, tmp_path)
    assert done.returncode != 0 and "NameError: name 'layer' is not defined" in done.stderr
    page = plant(tmp_path, "```python\nassert 1 + 1 == 3\n```\n")
    assert run_page(page, tmp_path).returncode != 0


NOT_RUN = "<!-- doc-block: not-run (a plant) -->\n"


@pytest.mark.parametrize(
    "command, message",
    [
        ("make no-such-target", "the Makefile has no target 'no-such-target'"),
        ("make reproduce-table2 SCAEL=paper", "the Makefile has no variable SCAEL"),
        ("minrnn-train experiment=table2/mingru seed=-1", "seed=-1"),
        ("minrnn-train model=nosuch", "model=nosuch"),
        ("minrnn-train -m experiment=table2/mingru trainer.lr=1e-3,-1", "trainer.lr=-1"),  # the sweep's second run
        ("python scripts/make_tables.py --scael cpu", "unrecognized arguments: --scael cpu"),
        ("python scripts/no_such_script.py", "no such script"),
        ("minrnn-generate runs/x --top_k 10", "unrecognized arguments: --top_k"),
        ('pip install -e ".[repro,gpu]"', "pyproject.toml has no extra ['gpu']"),
        ("export MINRNN_NO_SUCH=1\nmake test", "no code reads $MINRNN_NO_SUCH"),
        ("wandb sync runs/*/wandb/offline-run-*", "no match: runs/*/wandb/offline-run-*"),  # the glob, in bash
        ("ls", "no checker for the command 'ls'"),
        ("minrnn-trian experiment=table2/mingru || true", "no checker for the command 'minrnn-trian'"),
        ("if mnrnn-train; then make test; fi", "no checker for the command 'mnrnn-train'"),
        ("make test MINRNN_X=$(pyhton -c 1)", "no checker for the command 'pyhton'"),
    ],
)
def test_a_shell_block_naming_what_does_not_exist_fails_its_check(tmp_path, command, message):
    (block,) = blocks(plant(tmp_path, f"{NOT_RUN}```bash\n{command}\n```\n"))
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_shell(block, tmp_path / "work")


@pytest.mark.parametrize(
    "span, message",
    [
        ("make reproduce-tabel1", "the Makefile has no target 'reproduce-tabel1'"),
        ("make reproduce-table2 SCAEL=paper", "the Makefile has no variable SCAEL"),
        ("python scripts/make_tables.py --scael cpu", "unrecognized arguments: --scael cpu"),
        ("scripts/speed_card.py --scael gpu", "unrecognized arguments: --scael gpu"),
        ("python scripts/replay.py <summary> --nope", "unrecognized arguments: --nope"),
        ("python scripts/no_such_script.py", "no such script"),
        ("minrnn-generate --eager-stpe", "unrecognized arguments: --eager-stpe"),
        ("minrnn-train model=nosuch", "model=nosuch"),
        ('pip install "minrnn[hff]"', "pyproject.toml has no extra ['hff']"),
        ("$MINRNN_NO_SUCH", "no code reads $MINRNN_NO_SUCH"),
        ("MINRNN_NO_SUCH=1 make test", "no code reads $MINRNN_NO_SUCH"),
    ],
)
def test_a_command_written_inline_naming_what_does_not_exist_fails_its_check(tmp_path, span, message):
    (block,) = spans(plant(tmp_path, f"Run `{span}` to see.\n"))
    assert block.line == 1 and block.text == span
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_span(block, tmp_path / "work")


def test_only_inline_spans_that_are_commands_are_taken_and_fragments_check_what_they_name(tmp_path):
    text = (
        "The `make` and `minrnn-train` commands, `scripts/make_*.py`, `python -c 1`, ``make nope``.\n"
        f"{NOT_RUN}```bash\nmake `nope`\n```\n"
        "Then `minrnn-generate --eager-step`, `make replay RUN=results/<run>.json` and `$MINRNN_DATA`.\n"
    )
    found = spans(plant(tmp_path, text))
    assert [(b.line, b.text) for b in found] == [
        (6, "minrnn-generate --eager-step"), (6, "make replay RUN=results/<run>.json"), (6, "$MINRNN_DATA")
    ]  # fmt: skip
    for block in found:
        check_span(block, tmp_path / "work")


def test_a_tree_naming_a_missing_path_fails_and_yaml_must_parse(tmp_path):
    text = f"{NOT_RUN}```\nminrnn/  here\nnowhere/  gone\n```\n{NOT_RUN}```yaml\n: [\n```\n"
    tree, yaml = blocks(plant(tmp_path, text))
    with pytest.raises(AssertionError, match="nowhere/ does not exist"):
        check_static(tree, tmp_path)
    with pytest.raises(Exception, match="mapping values|expected"):
        check_static(yaml, tmp_path)


def test_a_shell_block_marked_run_runs_and_fails_when_its_command_does(tmp_path):
    (good, bad) = blocks(plant(tmp_path, "<!-- doc-block: run -->\n```bash\necho ran > out.txt\n```\n"
                                         "<!-- doc-block: run -->\n```bash\nfalse\n```\n"))  # fmt: skip
    assert run_shell(good.text, tmp_path).returncode == 0 and (tmp_path / "out.txt").read_text() == "ran\n"
    assert run_shell(bad.text, tmp_path).returncode != 0


def test_the_recorder_sees_commands_as_bash_expands_them(tmp_path):
    script = 'L="a=1 b=2"\nL="$L c=3"\nMINRNN_X=/p make $L "d e"  # a comment\nexport PYTHONPATH=$PWD/m\npip install x'
    (make, pip) = record_calls(script, tmp_path, tmp_path / "calls")
    assert make.argv == ["make", "a=1", "b=2", "c=3", "d e"] and make.env["MINRNN_X"] == "/p"
    assert pip.argv == ["pip", "install", "x"] and pip.env["PYTHONPATH"] == f"{tmp_path}/m" and pip.cwd == tmp_path


def test_a_shell_block_that_recurses_or_leaves_processes_behind_is_stopped(tmp_path):
    """A handler recursing through $(...) (every level a forked subshell) stops at FUNCNEST, and a
    background process a block leaves is killed with its session (tests/doc_pages.bash)."""
    from doc_pages import bash

    loop = "command_not_found_handle() { x=$(nosuch); }\nnosuch"
    done = bash(loop, tmp_path, {"PATH": str(tmp_path / "none")}, 60)
    assert done.returncode != 0 and "maximum function nesting level exceeded" in done.stderr
    script = f"(exec -a minrnn-doc-orphan /bin/bash -c 'sleep 600') &\necho $! > {tmp_path}/pid"
    bash(script, tmp_path, {"PATH": "/usr/bin:/bin"}, 60)
    pid = int((tmp_path / "pid").read_text())
    import time

    def alive() -> bool:  # a zombie (killed, not yet reaped by its new parent) has no command line
        try:
            return Path(f"/proc/{pid}/cmdline").read_text() == "sleep\x00600\x00"  # bash execs it; not a reused pid
        except OSError:
            return False

    deadline = time.monotonic() + 120  # SIGKILL was sent before bash() returned; a loaded machine may delay it
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(), f"process {pid} outlived its block"
