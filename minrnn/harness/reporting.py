"""Kept while the benchmark code moves to minrnn/bench/ (#33): the report code lives in minrnn/reports/.
New code imports minrnn.reports.runs and minrnn.reports.render."""

from minrnn.reports.render import markdown_table, save_figure  # noqa: F401
from minrnn.reports.runs import MODELS, NAMES, paper_reference, preset  # noqa: F401
