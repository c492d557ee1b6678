"""Output read from a child process (a compiler, git, nvidia-smi, ptxas, a doc block, our own CLI) is
decoded with ``errors="replace"``: a byte that is not UTF-8 (a Latin-1 locale's compiler message, a path
in another encoding) becomes U+FFFD in the message instead of a UnicodeDecodeError traceback."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from doc_pages import bash, run_python

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("minrnn", "tasks", "baselines", "scripts")
SHARED_HELPERS = ("tests/doc_pages.py",)  # the test helpers that report a child's output to a reader
DECODES = {"text", "encoding", "universal_newlines"}


def undecided(tree: ast.AST):
    """Line of each subprocess call or text-mode temporary file that decodes without ``errors=``."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        keywords = {k.arg for k in node.keywords}
        text_file = name.endswith("TemporaryFile") and any(
            isinstance(a, ast.Constant) and "b" not in str(a.value) for a in node.args[:1]
        )
        child = name.split(".")[-1] in ("run", "Popen", "check_output") and keywords & DECODES
        if (child or text_file) and "errors" not in keywords:
            yield node.lineno


def test_every_child_output_is_decoded_with_errors_replace():
    paths = [p for f in FOLDERS for p in sorted((REPO / f).rglob("*.py"))] + [REPO / h for h in SHARED_HELPERS]
    found = [f"{p.relative_to(REPO)}:{line}" for p in paths for line in undecided(ast.parse(p.read_text()))]
    assert not found, 'pass errors="replace" where a child\'s output is decoded:\n' + "\n".join(found)


@pytest.mark.parametrize(
    "planted, found",
    [
        ("subprocess.run(a, capture_output=True, text=True)", True),
        ("subprocess.Popen(a, stdout=PIPE, encoding='utf-8')", True),
        ("subprocess.check_output(a, universal_newlines=True)", True),
        ("tempfile.TemporaryFile('w+')", True),
        ("subprocess.run(a, capture_output=True, text=True, errors='replace')", False),
        ("subprocess.run(a)", False),
        ("tempfile.TemporaryFile('w+b')", False),
    ],
)
def test_the_check_finds_a_planted_decoder(planted, found):
    assert bool(list(undecided(ast.parse(planted)))) is found


def test_a_doc_block_that_prints_latin1_is_reported_not_raised(tmp_path):
    done = bash("printf 'caf\\xe9\\n'; printf 'na\\xefve\\n' >&2", tmp_path, dict(os.environ), 30)
    assert (done.returncode, done.stdout, done.stderr) == (0, "caf\ufffd\n", "na\ufffdve\n")
    done = run_python("import sys; sys.stdout.buffer.write(b'\\xff\\n')", tmp_path, timeout=60)
    assert (done.returncode, done.stdout) == (0, "\ufffd\n")
