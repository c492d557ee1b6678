"""``make reproduce``'s reports in one process (scripts/make_reports.py): the parameter counts, Tables 1-4
and 6 (Table 3's demo), Figure 2's table and the claims, each exactly as its own script makes it, from
the committed runs in results/. One process imports torch, Hydra and matplotlib once, and composes each
preset once (minrnn.reports.runs) however many reports ask for it: six processes took ~3 min on two busy
cores, mostly in those (issue 36)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from minrnn import cli

# (its script, what it does) in make reproduce's order; each is imported when it runs
STEPS = [
    ("param_counts", "minrnn.reports.params", "", []),
    ("make_tables", "minrnn.reports.tables", "TABLES_1_2", []),
    ("make_figure2", "minrnn.reports.figures", "FIGURE2", []),
    ("make_table4", "minrnn.reports.tables", "TABLE4", []),
    ("make_table6", "minrnn.reports.tables", "TABLE6", []),
    ("make_table3", "minrnn.reports.tables", "TABLE3", ["--demo"]),
    ("make_claims", "minrnn.reports.claims.machinery", "", []),
]


def _command(module: str, report: str) -> tuple[Callable, Callable]:
    """(add_arguments, run) of a step: a Report object of ``module`` or the module's own functions."""
    import importlib

    owner = importlib.import_module(module)
    owner = getattr(owner, report) if report else owner
    return owner.add_arguments, owner.run


def add_arguments(ap) -> None:
    ap.add_argument("--scale", choices=["cpu", "paper"], default="cpu")
    ap.add_argument("--out", required=True, help="where every report is written (make reproduce: outputs/reproduce)")


def run(args, error=None) -> int:
    """Each step as ``python scripts/<step>.py [...] --scale S --out OUT``; the first that fails stops the
    rest (as make would), its exit code returned."""
    for name, module, report, extra in STEPS:
        add, command = _command(module, report)
        ap = argparse.ArgumentParser(prog=name)
        add(ap)
        argv = [*extra, *(["--scale", args.scale] if name != "param_counts" else []), "--out", str(args.out)]
        print(f"$ python scripts/{name}.py {' '.join(argv)}", flush=True)
        started = time.perf_counter()
        code = cli.run(command, ap, argv)
        print(f"({name}: {time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
        if code:
            return code
    return 0
