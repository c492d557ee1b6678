"""Helpers for tests of the training harness: compose configs and tiny, fast overrides."""

import json
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from minrnn.harness.config import CONFIGS, identity, register_resolvers

register_resolvers()


def compose_cfg(overrides=(), hydra_cfg=False):
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=hydra_cfg)


def tiny(tmp: Path, *extra: str) -> list[str]:
    """Selective copy shrunk to seconds: 8 noise tokens, 2 to copy, width 16."""
    return [
        *f"logger.mode=disabled trainer.progress=false paths.runs={tmp}/runs paths.results={tmp}/results".split(),
        *"task.seq_len=8 task.num_tokens=2 task.eval_batches=2 task.eval_batch_size=8 task.arch.dim=16".split(),
        *"task.arch.expansion=2 task.arch.depth=2 trainer.batch_size=8 trainer.max_steps=6".split(),
        *"trainer.eval_every=3 trainer.log_every=2".split(),
        *extra,
    ]


def write_summary(results: Path, overrides=(), metrics=None, seed: int = 0, scale: str = "cpu", **fields) -> Path:
    """A run summary as minrnn-train writes it for this preset (its real config, name and identity),
    with the given metrics, under results/; returns its path."""
    cfg = compose_cfg([*overrides, f"seed={seed}", f"scale={scale}"])
    config = OmegaConf.to_container(cfg, resolve=True)
    rec = {
        "config": config,
        "identity": identity(config),
        "seed": seed,
        "scale": scale,
        "provenance": {"git_commit": "test", "device_name": "test cpu"},
        "run_name": cfg.run_name,
        "implementation": "test",
        "wall_seconds": 60.0,
        "metrics": metrics or {},
        **fields,
    }
    path = Path(results) / f"{cfg.run_name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))
    return path
