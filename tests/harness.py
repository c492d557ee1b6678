"""Helpers for tests of the training harness: compose configs and tiny, fast overrides."""

from pathlib import Path

from hydra import compose, initialize_config_dir

from minrnn.train import CONFIGS


def compose_cfg(overrides=(), hydra_cfg=False):
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=hydra_cfg)


def tiny(tmp: Path, *extra: str) -> list[str]:
    """Selective copy shrunk to seconds: 8 noise tokens, 2 to copy, width 16."""
    return [
        "logger.mode=disabled", "trainer.progress=false", f"paths.runs={tmp}/runs", f"paths.results={tmp}/results",
        "task.seq_len=8", "task.num_tokens=2", "task.eval_batches=2", "task.eval_batch_size=8",
        "task.arch.dim=16", "task.arch.expansion=2", "task.arch.depth=2", "trainer.batch_size=8",
        "trainer.max_steps=6", "trainer.eval_every=3", "trainer.log_every=2", *extra,
    ]  # fmt: skip
