"""Tasks: data generators or loaders plus the loss and metrics the paper reports (``minrnn.tasks``).

Every task implements ``Task``, which is what minrnn-train and the trainer call; a config in
configs/task/ points at the class with ``_target_`` and holds its constructor's arguments (plus
``name`` and the block settings ``arch``). Adding a task is one file here and one YAML file there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import torch

Batch = tuple[torch.Tensor, torch.Tensor]


@runtime_checkable
class Task(Protocol):
    """What the harness calls. Token tasks set ``vocab_size``; vector tasks set ``dim_in`` instead.

    Optional: ``higher_is_better`` (default True); ``wrap(model) -> model`` puts task-specific input
    and output layers around the built model (D4RL's decision model); ``final_evaluation(model,
    device) -> dict`` runs after training on the kept weights (D4RL's rollouts), stored under
    ``metrics.final``.
    """

    metric: str  # the metrics() key that picks the best checkpoint
    dim_out: int

    def train_batch(self, batch_size: int, step: int) -> Batch:
        """Deterministic in (seed, step), so a resumed run sees the same batches."""

    def eval_batches(self, split: str) -> Iterable[Batch]:
        """The same fixed set of (x, y) at every call; split is 'val' or 'test'."""

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...

    def metrics(self, logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """Sums over the batch (the trainer divides by the number of examples)."""


def train_generator(seed: int, step: int) -> torch.Generator:
    """The random generator of training batch ``step``: seeded by (seed, step) alone, so a resumed run sees
    the same batches, and by an odd number, so never by a fixed validation or test set's seed (0, 2)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 2 + 1)
