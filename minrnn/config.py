"""OmegaConf resolvers for the configs in configs/.

``${by_scale:PAPER,CPU}`` picks the value for the top-level ``scale`` (paper: the paper's setting,
for 16 GB GPUs; cpu: small enough for 2 CPU cores). Both values sit side by side in one YAML line,
and a command-line override of the key still wins, since it replaces the interpolation.
"""

from __future__ import annotations

from omegaconf import OmegaConf

SCALES = ("paper", "cpu")


def _by_scale(paper, cpu, *, _root_):
    scale = _root_.get("scale")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
    return paper if scale == "paper" else cpu


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("by_scale"):
        OmegaConf.register_new_resolver("by_scale", _by_scale)
