"""Classification by pooling (the paper's Appendix C.2 for Long Range Arena): the sequence model's
per-position outputs are averaged over each sequence's real tokens, and that mean is the logits.

Targets are y (B, 2): the class and the number of real tokens, which are the last ones of the row
(left padding; a row with no padding has y[:, 1] = T).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class PooledClassification:
    metric = "acc"

    @staticmethod
    def pooled(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean of the outputs over each sequence's real (last y[:, 1]) positions: (B, classes)."""
        T = logits.shape[1]
        mask = (torch.arange(T, device=logits.device) >= T - y[:, 1:2]).unsqueeze(-1).to(logits.dtype)
        return (logits * mask).sum(1) / mask.sum(1)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.pooled(logits, y).float(), y[:, 0])

    def metrics(self, logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        pooled = self.pooled(logits, y).float()
        return {
            "acc": (pooled.argmax(-1) == y[:, 0]).float().sum().item(),
            "loss": F.cross_entropy(pooled, y[:, 0]).item() * y.shape[0],
        }
