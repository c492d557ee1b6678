"""Every script is a thin entry point that ends in minrnn.cli.run: what a user can cause (an output folder
that is not writable, a bad results file) is one line and exit 2, never a traceback (issue 34)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# scripts with a command line of their own (they handle their errors themselves, each tested in its file)
OWN = {"generate", "make_d4rl_demo_data", "replay", "run_recall_grid"}


def ends_in_cli_run(path: Path) -> bool:
    main = next(
        (n for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef) and n.name == "main"), None
    )
    last = main.body[-1] if main else None
    return isinstance(last, ast.Return) and ast.unparse(last.value).startswith("cli.run(")


def test_every_script_runs_through_the_one_guard():
    scripts = sorted(p for p in (ROOT / "scripts").glob("*.py") if p.stem not in OWN)
    assert len(scripts) >= 15
    assert [p.name for p in scripts if not ends_in_cli_run(p)] == []


def run_script(script: str, out: Path) -> subprocess.CompletedProcess:
    """scripts/<script> (its name, then its arguments) with --out out."""
    name, *args = script.split()
    command = [sys.executable, str(ROOT / "scripts" / name), *args, "--out", str(out)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT)


@pytest.mark.parametrize(
    "script",
    ["make_tables.py --scale cpu", "make_claims.py --scale cpu", "make_recall.py --scale cpu", "make_deviations.py"],
)
def test_an_output_folder_that_cannot_be_written_is_one_line(script, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    name = script.split()[0]
    out = run_script(script, blocker / "out")
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr and out.stderr.strip().splitlines()[-1].startswith(f"{name}: error: ")
    assert blocker.read_text() == "not a folder"


def test_nan_and_an_out_that_cannot_be_written_are_refused_before_the_command_runs(tmp_path):
    """bench_decoding --budget nan passed `budget <= 0`, timed no round and wrote an empty table over the
    committed one; an --out that was a file failed only when the results were written, after the run."""
    import argparse

    from minrnn import cli

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    ran = []
    ap = argparse.ArgumentParser(prog="x")
    ap.add_argument("--budget", type=float, default=1.0)
    ap.add_argument("--sizes", type=float, nargs="+", default=[1.0])
    ap.add_argument("--out", type=Path)
    for argv in (["--budget", "nan"], ["--sizes", "1", "nan"], ["--out", str(blocker)], ["--out", f"{blocker}/sub"]):
        try:
            rc = cli.run(lambda args, error: ran.append(args) or 0, ap, argv)
        except SystemExit as e:
            rc = e.code
        assert rc == 2 and ran == [], argv
    fine = ["--budget", "inf", "--out", f"{tmp_path}/new/a"]  # a folder still to be made
    assert cli.run(lambda args, error: ran.append(args) or 0, ap, fine) == 0
    assert len(ran) == 1 and blocker.read_text() == "not a folder"


@pytest.mark.parametrize(
    "script", ["bench_decoding.py --budget nan", "speed_card.py --budget 0", "speed_card.py --budget -1"]
)
def test_a_budget_that_is_no_budget_is_refused_before_anything_is_written(script, tmp_path):
    out = run_script(script, tmp_path / "out")
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert not (tmp_path / "out").exists()
