"""The paper's claims against our runs (``make claims``): the machinery, then the claims in the paper's order."""

from importlib import import_module

from minrnn.reports.claims.machinery import (  # noqa: F401  (the package's interface)
    BUDGET,
    CLAIMS,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NOT_RUN,
    PARTLY,
    VERDICTS,
    evaluate,
    longer_run_cells,
    longer_run_sweeps,
    markdown,
)

for _part in ("paper", "appendix", "discussion"):  # registered in this order: the order of the claims files
    import_module(f"minrnn.reports.claims.{_part}")
