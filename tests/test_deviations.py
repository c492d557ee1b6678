"""configs/deviations.yaml names every known difference between a scale=paper preset and the paper or
the authors' code; each entry's `ours` must be what the preset composes to, and docs/deviations.md must
be generated from the file as it is."""

from pathlib import Path

import pytest
from harness import compose_cfg
from omegaconf import OmegaConf

from minrnn.reports import deviations

ROOT = Path(__file__).resolve().parent.parent
ROWS = deviations.deviations()


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['preset']}:{r['key']}" for r in ROWS])
def test_each_listed_deviation_is_what_the_preset_composes_to(row):
    cfg = compose_cfg([f"experiment={row['preset']}", "scale=paper"])
    assert OmegaConf.select(cfg, row["key"]) == row["ours"], row
    if "cpu" in row:
        cfg = compose_cfg([f"experiment={row['preset']}", "scale=cpu"])
        assert OmegaConf.select(cfg, row["key"]) == row["cpu"], row


def test_the_report_is_generated_from_the_file():
    assert (ROOT / "docs/deviations.md").read_text() == deviations.report(ROWS)
