import subprocess
import sys
from pathlib import Path

from harness import write_summary

ROOT = Path(__file__).resolve().parent.parent


def test_figure2_plots_curves_and_tabulates_best_loss_beside_the_paper(tmp_path):
    for model, losses in {"mingru": [2.0, 1.6, 1.7], "transformer": [2.2, 1.9, 1.8]}.items():
        hist = [{"step": 10 * (i + 1), "val_loss": v} for i, v in enumerate(losses)]
        write_summary(tmp_path, [f"experiment=figure2/{model}"], {"best_val": min(losses), "val_history": hist})
    out = subprocess.run(
        [sys.executable, "scripts/make_figure2.py", "--results", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    md = (tmp_path / "figures/figure2_cpu.md").read_text()
    assert "| minGRU | 0 | 1.600 | 20 | 1.548 | 575 |" in md
    assert "| Transformer | 0 | 1.800 | 30 | 1.547 | 2000 |" in md
    png = tmp_path / "figures/figure2_cpu.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "figures/figure2_cpu.pdf").exists()
