"""Every fenced block of README.md and docs/*.md, and what the tests do with it (tests/test_doc_pages.py).

A block is run or checked, as the HTML comment on the line before its fence says (a Python block without
one is run):

    <!-- doc-block: run -->               run by tests/test_doc_pages.py: the page's Python blocks one after
                                          another in one fresh interpreter, a shell block in bash, in a tmp dir
    <!-- doc-block: file PATH -->         the page's file PATH (a recipe's), written where a recipe test runs it
    <!-- doc-block: recipe TEST -->       run by TEST (tests/<file>.py::<name>), which follows the page from outside
    <!-- doc-block: not-run (REASON) -->  not run, for the reason given; checked instead

Every block is also checked: Python compiles, YAML parses, a tree names paths that exist, and a shell block
runs in bash with each command it calls replaced by a recorder (nothing else on PATH): every ``make``
target and variable exists, every ``minrnn-train`` command composes through the settings schema (each run of
a ``-m`` sweep), every script and ``minrnn-generate`` accepts its arguments, every ``pip install`` names
extras pyproject.toml has, and a variable ``MINRNN_*`` the block sets is one the code reads.

Commands written inline in prose (a code span: ``make foo``, ``python scripts/x.py --flag``,
``scripts/x.py --flag``, ``minrnn-train ...``, ``minrnn-generate ...``, ``pip install ...``, ``$MINRNN_X``,
``MINRNN_X=1 make foo``) go through the same
checks (``spans``, ``check_span``); a ``<placeholder>`` in one stands for a word, and a span that names a
flag without the arguments the command requires is checked for what it names.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import runpy
import shlex
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"bash", "sh", "console", "shell"}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*$", re.S | re.M)
NOTE = re.compile(r"<!-- doc-block: (run|file|recipe|not-run)(?: (\S+))?(?: \((.+)\))? -->")


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str  # "" for a fence without a language
    text: str
    kind: str  # run, file, recipe, not-run
    arg: str | None  # file: the path; recipe: the test
    reason: str | None

    @property
    def name(self) -> str:
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page.name
        return f"{page}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The page's fenced blocks with their annotations; a malformed or missing one is one ValueError."""
    text, out = page.read_text(), []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        lang = m.group(1).lower()
        where = f"{page.name}:{line}"
        if "doc-block" in before:
            note = NOTE.fullmatch(before.strip())
            if note is None:
                raise ValueError(f"{where}: unreadable annotation {before.strip()!r}")
            kind, arg, reason = note.groups()
        elif lang == "python":
            kind, arg, reason = "run", None, None
        else:
            what = f"a {lang or 'plain'} block that no test runs or checks"
            raise ValueError(f"{where}: {what}: annotate it (tests/doc_pages.py)")
        if kind in ("file", "recipe") and not arg:
            raise ValueError(f"{where}: 'doc-block: {kind}' needs a {'path' if kind == 'file' else 'test'}")
        if kind == "not-run" and not reason:
            raise ValueError(f"{where}: 'doc-block: not-run' needs its reason in parentheses")
        if kind == "run" and lang not in ("python", *SHELL):
            raise ValueError(f"{where}: only Python and shell blocks can be run, not {lang or 'plain'} ones")
        out.append(Block(page, line, lang, m.group(2), kind, arg, reason))
    return out


SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
COMMAND_SPAN = re.compile(
    r"(?:MINRNN_\w+=\S*\s+)*"  # variables set for the command
    r"(?:(?:make|minrnn-train|minrnn-generate)\s+\S.*|pip install\s.*|(?:python3? )?scripts/[\w/.-]+\.py(?:\s.*)?)"
    r"|\$?(MINRNN_\w+)(?:=\S*)?"
)


def spans(page: Path) -> list[Block]:
    """The code spans in the page's prose (outside fenced blocks) that are commands, as not-run shell blocks."""
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), page.read_text())
    return [
        Block(page, text.count("\n", 0, m.start()) + 1, "bash", m.group(1).strip(), "not-run", None, "inline")
        for m in SPAN.finditer(text)
        if COMMAND_SPAN.fullmatch(m.group(1).strip())
    ]


def page_files(page: Path) -> dict[str, str]:
    """The files a page's recipe writes (``doc-block: file PATH``), by path."""
    return {b.arg: b.text for b in blocks(page) if b.kind == "file"}


def write_files(page: Path, folder: Path) -> None:
    for path, text in page_files(page).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)


def recipe_block(page: Path, test: str) -> str:
    """The one block of ``page`` that ``test`` (``tests/<file>.py::<name>``) runs."""
    (block,) = [b for b in blocks(page) if b.kind == "recipe" and b.arg == test]
    return block.text


# ---- running --------------------------------------------------------------------------------------------


def run_python(code: str, cwd: Path, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Python source in a fresh interpreter in ``cwd`` (one thread, like the test workers)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
    )


def run_shell(script: str, cwd: Path, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """A shell block in bash (``set -euo pipefail``) with the venv's commands first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "PATH": path, "OMP_NUM_THREADS": "1", **(env or {})}
    return bash("set -euo pipefail\n" + script, cwd, env, timeout)


def bash(script: str, cwd: Path, env: dict, timeout: int) -> subprocess.CompletedProcess:
    """``bash -c script`` in a session of its own, every process of which is killed when bash exits or
    times out (a block's subshells never outlive its check), with shell functions nested at most 64 deep
    (a function that recurses through ``$(...)``, even command_not_found_handle, stops instead of forking
    until memory runs out). Output goes to files, not pipes: a background process left holding them
    would keep a pipe open, and the check waiting for its end, until the timeout."""
    with tempfile.TemporaryFile("w+", errors="replace") as out, tempfile.TemporaryFile("w+", errors="replace") as err:
        proc = subprocess.Popen(
            ["/bin/bash", "-c", "FUNCNEST=64\n" + script], cwd=cwd, env=env, stdout=out, stderr=err,
            text=True, errors="replace", start_new_session=True,
        )  # fmt: skip
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        out.seek(0), err.seek(0)
        stdout, stderr = ("", f"timed out after {timeout} s") if timed_out else (out.read(), err.read())
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


# ---- checking a shell block: record each command, then check it --------------------------------------------

COMMANDS = ("make", "minrnn-train", "minrnn-generate", "python", "python3", "pip")
RECORDER = r"""
_record() {
  _n=$((${_n:-0} + 1)); _f="$DOC_CALLS/$(printf %03d $_n)"
  printf '%s\0' "$PWD" > "$_f.cwd"; printf '%s\0' "$@" > "$_f.argv"
  : > "$_f.env"; for _v in $(compgen -e); do printf '%s=%s\0' "$_v" "${!_v}" >> "$_f.env"; done
}
command_not_found_handle() {  # also noted in a file: `|| true`, an `if` or a $(...) would swallow the 127
  echo "no checker for the command '$1' (tests/doc_pages.py)" >> "$DOC_CALLS/not-found"
  echo "no checker for the command '$1' (tests/doc_pages.py)" >&2; return 127
}
""" + "".join(f'{c}() {{ _record {c} "$@"; }}\n' for c in COMMANDS)


@dataclass
class Call:
    argv: list[str]
    env: dict[str, str]
    cwd: Path


def record_calls(script: str, cwd: Path, calls: Path) -> list[Call]:
    """The commands a shell block calls, in order, as bash expands them (variables, quotes, globs)."""
    calls.mkdir(parents=True, exist_ok=True)
    env = {"PATH": str(calls / "no-commands"), "HOME": os.environ.get("HOME", "/tmp"), "DOC_CALLS": str(calls)}
    done = bash(RECORDER + "set -euo pipefail\nshopt -s failglob\n" + script, cwd, env, 60)
    if done.returncode:
        raise AssertionError(f"bash: {done.stderr.strip()}")
    if (calls / "not-found").exists():
        raise AssertionError(f"bash: {(calls / 'not-found').read_text().splitlines()[0]}")

    def nul(path: Path) -> list[str]:
        return path.read_text().split("\0")[:-1]

    return [
        Call(nul(a), dict(kv.split("=", 1) for kv in nul(a.with_suffix(".env"))), Path(nul(a.with_suffix(".cwd"))[0]))
        for a in sorted(calls.glob("*.argv"))
    ]


class _Parsed(Exception):
    pass


_FRAGMENT = [False]  # check_span: a command's required arguments may be left out, every argument given is checked


@contextlib.contextmanager
def _environment(call: Call):
    """os.environ, sys.path and the cwd of the call, for checks that run here."""
    saved_env, saved_path, saved_cwd = dict(os.environ), list(sys.path), Path.cwd()
    os.environ.update({k: v for k, v in call.env.items() if k.startswith(("MINRNN_", "PYTHONPATH"))})
    sys.path[:0] = [p for p in call.env.get("PYTHONPATH", "").split(os.pathsep) if p]
    try:
        os.chdir(call.cwd if call.cwd.is_dir() else ROOT)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path
        os.chdir(saved_cwd)


def _parse_only(main, argv: list[str], prog: str) -> None:
    """Run an argparse command up to its parse_args: it accepts argv, or its own message is the error."""
    real = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, args=None, namespace=None):
        for action in self._actions if _FRAGMENT[0] else ():
            action.required = False
        real(self, args, namespace)
        raise _Parsed

    argparse.ArgumentParser.parse_args = parse_and_stop
    try:
        with contextlib.redirect_stderr(err := __import__("io").StringIO()):
            main(argv)
    except _Parsed:
        return
    except SystemExit:
        raise AssertionError(f"{prog} {shlex.join(argv)}: {err.getvalue().strip().splitlines()[-1]}") from None
    finally:
        argparse.ArgumentParser.parse_args = real
    raise AssertionError(f"{prog} {shlex.join(argv)}: ran without parsing its arguments")


def check_make(argv: list[str], _call: Call) -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = [a for a in argv if "=" not in a and not a.startswith("-")]
    for var in [a.split("=")[0] for a in argv if "=" in a]:
        if not re.search(rf"^{re.escape(var)} \??=|\$\({re.escape(var)}\)", makefile, re.M):
            raise AssertionError(f"make {shlex.join(argv)}: the Makefile has no variable {var}")
    for t in targets:
        if not re.search(rf"^{re.escape(t)}:", makefile, re.M):
            raise AssertionError(f"make {shlex.join(argv)}: the Makefile has no target {t!r}")
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), *argv], capture_output=True, text=True, errors="replace", timeout=60
    )
    assert done.returncode == 0, f"make -n {shlex.join(argv)}: {done.stderr.strip()}"


def check_train(argv: list[str], call: Call) -> None:
    """Each run the command starts composes and passes the schema (not the device: a GPU may be named)."""
    from hydra import compose, initialize_config_dir

    from minrnn.harness.config import CONFIGS, register_resolvers
    from minrnn.harness.schema import check, check_launcher
    from minrnn.harness.sweep_check import sweep_jobs

    register_resolvers()
    overrides = [a for a in argv if a not in ("-m", "--multirun")]
    jobs, seen = [], set()
    for job in sweep_jobs(overrides) if len(overrides) < len(argv) else [overrides]:
        if not seen.issuperset(job):  # every value of every swept key once, not every combination
            jobs.append(job)
            seen.update(job)
    with _environment(call), initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        for job in jobs:
            try:
                cfg = compose("train", overrides=job, return_hydra_config=True)
                check_launcher(cfg.hydra.get("launcher"))
                check(cfg, here=False)
            except Exception as e:  # Hydra's composition error or the schema's one line
                raise AssertionError(f"minrnn-train {shlex.join(job)}: {str(e).strip().splitlines()[0]}") from None


def check_python(argv: list[str], call: Call) -> None:
    assert argv and argv[0].startswith("scripts/"), f"python {shlex.join(argv)}: not a script of scripts/"
    script = ROOT / argv[0]
    assert script.is_file(), f"python {argv[0]}: no such script"

    def main(args):
        saved, sys.argv = sys.argv, [str(script), *args]
        try:
            runpy.run_path(str(script), run_name="__main__")
        finally:
            sys.argv = saved

    with _environment(call):
        _parse_only(main, argv[1:], argv[0])


def check_generate(argv: list[str], call: Call) -> None:
    from minrnn import generate

    with _environment(call):
        _parse_only(generate.main, argv, "minrnn-generate")


def check_pip(argv: list[str], _call: Call) -> None:
    assert argv[:1] == ["install"], f"pip {shlex.join(argv)}: only pip install is checked"
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    for a in argv[1:]:
        if m := re.fullmatch(r"(?:\.|minrnn)\[([\w,-]+)\]", a):
            missing = set(m.group(1).split(",")) - extras
            assert not missing, f"pip {shlex.join(argv)}: pyproject.toml has no extra {sorted(missing)}"


CHECKS = {
    "make": check_make,
    "minrnn-train": check_train,
    "minrnn-generate": check_generate,
    "python": check_python,
    "python3": check_python,
    "pip": check_pip,
}


def check_shell(block: Block, tmp: Path) -> list[Call]:
    """Record the block's commands (in a tmp dir holding the page's files) and check each one."""
    write_files(block.page, tmp)
    calls = record_calls(block.text, tmp, tmp / ".calls")
    assert calls, f"{block.name}: calls no command"
    for call in calls:
        check_variables([n for n in call.env if n.startswith("MINRNN_")], block.name)
        CHECKS[call.argv[0]](call.argv[1:], call)
    return calls


def check_variables(names: list[str], where: str) -> None:
    """Each ``MINRNN_*`` name is one the code (minrnn/, tasks/, configs/, or the Makefile, which passes
    a test's knob on) reads."""
    sources = [*ROOT.glob("minrnn/**/*.py"), *ROOT.glob("tasks/**/*.py"), *ROOT.glob("configs/**/*.yaml")]
    sources.append(ROOT / "Makefile")
    code = "\n".join(p.read_text() for p in sources) if names else ""
    for name in names:
        if not re.search(rf"\b{name}\b", code):
            raise AssertionError(f"{where}: no code reads ${name}")


def check_span(span: Block, tmp: Path) -> None:
    """An inline command (``spans``) checked as a shell block: a ``<placeholder>`` is a word, and only the
    required arguments a fragment (``minrnn-generate --eager-step``) leaves out are not asked for."""
    if variable := COMMAND_SPAN.fullmatch(span.text).group(1):
        return check_variables([variable], span.name)
    text = re.sub(r"<[^>]*>", "PLACEHOLDER", span.text)
    text = re.sub(r"^((?:MINRNN_\w+=\S*\s+)*)(scripts/)", r"\1python \2", text)  # a script named on its own
    _FRAGMENT[0] = True
    try:
        check_shell(Block(span.page, span.line, "bash", text, "not-run", None, "inline"), tmp)
    finally:
        _FRAGMENT[0] = False


def check_static(block: Block, tmp: Path) -> None:
    """What is checked of every block, run or not."""
    if block.lang == "python":
        compile(block.text, block.name, "exec")
    elif block.lang in SHELL:
        check_shell(block, tmp)
    elif block.lang == "yaml":
        import yaml

        assert isinstance(yaml.safe_load(block.text), dict), f"{block.name}: not a YAML mapping"
    elif block.lang in ("", "text"):  # a tree: the path that starts each entry exists
        for line in block.text.splitlines():
            path = line.split()[0] if line and not line[0].isspace() else None
            if path:
                found = list(ROOT.glob(path.rstrip("/").replace(",", "")))
                assert found, f"{block.name}: {path} does not exist"
    else:
        raise AssertionError(f"{block.name}: no check for a {block.lang} block")
