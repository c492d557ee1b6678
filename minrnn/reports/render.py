"""How a report leaves the program: cells as text, Markdown and LaTeX tables, figures, and the command line
every table and figure script shares (``Report``: --scale, --results, --runs, --out).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from minrnn.files import atomic_path, write_json, write_text
from minrnn.reader import UnreadableFile, parse_json, read_json
from minrnn.reports.runs import ResultsError


def fmt_cell(c: dict | None, digits: int = 2, missing: str = "-") -> str:
    """ "mean ± std (n=k)", or ``missing``."""
    if c is None:
        return missing
    std = "" if c["n"] < 2 else f" ± {c['std']:.{digits}f}"
    return f"{c['mean']:.{digits}f}{std} (n={c['n']})"


def latex(header: list[str], rows: list[list[str]]) -> str:
    def esc(s: str) -> str:
        return s.replace("±", r"$\pm$").replace("_", r"\_").replace("%", r"\%")

    lines = [r"\begin{tabular}{" + "l" * len(header) + "}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
    lines += [" & ".join(esc(c) for c in r) + r" \\" for r in rows]
    return "\n".join([*lines, r"\bottomrule", r"\end{tabular}"]) + "\n"


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a Markdown table."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def write_table(out: Path, name: str, title: str, note: str, header: list[str], rows: list[list[str]]) -> None:
    """A titled Markdown table with its note as out/name.md, the same rows as out/name.tex; printed."""
    md = "\n".join([title, "", note, "", *markdown_table(header, rows)]) + "\n"
    write_text(Path(out) / f"{name}.md", md)
    write_text(Path(out) / f"{name}.tex", latex(header, rows))
    print(md)


VOLATILE = ("provenance",)  # where and when a report was made: not a change of its content


def unchanged(path: Path, obj: dict, volatile: tuple[str, ...] = VOLATILE) -> bool:
    """Whether ``path`` holds ``obj`` already, but for its ``volatile`` keys (provenance: commit, date)."""
    try:
        old = read_json(path)
    except UnreadableFile:  # missing, or not JSON: written anew
        return False
    strip = (lambda d: {k: v for k, v in d.items() if k not in volatile}) if isinstance(old, dict) else None
    new = parse_json(path, json.dumps(obj))  # obj as it would read back (tuples as lists, keys as strings)
    return strip is not None and strip(old) == strip(new)


def write_result_json(path: Path, obj: dict) -> bool:
    """A generated results file through the one writer (minrnn.files), kept as it is when only its
    provenance would change (issue #36: a make target leaves a clean tree); True when written."""
    if unchanged(path, obj):
        return False
    write_json(path, obj)
    return True


def write_markdown(path: Path, lines: list[str]) -> None:
    """A report's Markdown page (lines joined, a final newline), written and printed."""
    text = "\n".join(lines) + "\n"
    write_text(path, text)
    print(text)


def save_figure(fig, path: Path) -> list[Path]:
    """PNG and PDF beside each other, each written under a temporary name and renamed; closes the figure."""
    import matplotlib.pyplot as plt

    paths = [Path(path).with_suffix(f".{ext}") for ext in ("png", "pdf")]
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    try:
        for p in paths:  # a name of this writer's own: two scripts drawing the same figure never share one
            with atomic_path(p) as tmp:
                # no creation date: a figure redrawn from the same results is the same file
                meta = {"CreationDate": None} if p.suffix == ".pdf" else {}
                fig.savefig(tmp, bbox_inches="tight", dpi=150, metadata=meta)
    finally:
        plt.close(fig)
    return paths


def pyplot():
    """matplotlib's pyplot on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@dataclass(frozen=True)
class Report:
    """One table or figure made from results/ alone: its script's name (for messages), the function that
    makes it from the parsed arguments, whether it is a figure (the default --out), and its own arguments."""

    script: str
    make: Callable[[argparse.Namespace], None]
    figures: bool = False
    extra: Callable[[argparse.ArgumentParser], None] | None = None

    def add_arguments(self, ap: argparse.ArgumentParser) -> None:
        ap.add_argument("--scale", choices=["cpu", "paper"], default="cpu")
        ap.add_argument("--results", type=Path, default=Path("results"), help="where the run summaries are")
        runs = "run directories, to report unfinished runs (default: RESULTS/../runs)"
        ap.add_argument("--runs", type=Path, help=runs)
        default = "figures" if self.figures else "tables"
        ap.add_argument("--out", type=Path, help=f"where to write (default: RESULTS/{default})")
        if self.extra:
            self.extra(ap)

    def run(self, args: argparse.Namespace, error: Callable[[str], None] | None = None) -> int:
        """Fill the defaults of --runs and --out and make the report; a ResultsError is one line on stderr
        and exit 2."""
        args.runs = args.runs or args.results.parent / "runs"
        args.out = args.out or args.results / ("figures" if self.figures else "tables")
        try:
            self.make(args)
        except ResultsError as e:
            print(f"{self.script}: error: {e}", file=sys.stderr)
            return 2
        return 0
