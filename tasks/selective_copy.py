"""Selective copying (Gu & Dao, 2024, Section 4.1.1; the paper's Section 4.1 and Tables 1-2).

A sequence of ``seq_len`` noise tokens holds ``num_tokens`` data tokens at random sorted positions;
``num_tokens`` marker tokens follow, and the model must output the data tokens, in order, at the
marker positions. Accuracy is the mean per-token match over those outputs. The token layout follows
the authors' code (data/selective_copy.py): vocabulary 16, noise = 15, marker = 0, data in 1..14,
so the input has seq_len + num_tokens tokens.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from minrnn.tasks import train_generator


class SelectiveCopy:
    # bump when the data generated for a seed changes: task.version, and so the run identity, follow it
    VERSION = 1
    metric = "acc"

    def __init__(
        self,
        seq_len: int = 4096,
        num_tokens: int = 16,
        vocab_size: int = 16,
        seed: int = 0,
        eval_batches: int = 200,
        eval_batch_size: int = 64,
    ):
        if vocab_size < 3:
            raise ValueError(f"selective copy needs vocab_size >= 3 (noise, marker, data), got {vocab_size}")
        if not 1 <= num_tokens <= seq_len:
            raise ValueError(f"need 1 <= num_tokens <= seq_len, got num_tokens={num_tokens}, seq_len={seq_len}")
        self.seq_len, self.num_tokens, self.vocab_size, self.seed = seq_len, num_tokens, vocab_size, seed
        self.noise, self.marker = vocab_size - 1, 0
        self.dim_out = vocab_size
        self.max_len = seq_len + num_tokens
        self._eval = {"val": (eval_batches, eval_batch_size, 0), "test": (eval_batches, eval_batch_size, 2)}

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, seq_len + num_tokens) token ids, y (B, num_tokens) the data tokens in order."""
        tokens = torch.randint(1, self.vocab_size - 1, (batch_size, self.num_tokens), generator=generator)
        keys = torch.rand(batch_size, self.seq_len, generator=generator)
        positions = keys.topk(self.num_tokens, dim=1).indices.sort(dim=1).values  # distinct, uniform
        seq = torch.full((batch_size, self.seq_len), self.noise, dtype=torch.long)
        seq.scatter_(1, positions, tokens)
        markers = torch.full((batch_size, self.num_tokens), self.marker, dtype=torch.long)
        return torch.cat([seq, markers], dim=1), tokens

    def train_batch(self, batch_size: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sample(batch_size, train_generator(self.seed, step))

    def eval_batches(self, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Fixed sets as in the authors' code: validation from seed 0, test from seed 2 (even seeds only,
        so they never coincide with a training batch's odd seed)."""
        n, bs, seed = self._eval[split]
        g = torch.Generator().manual_seed(seed)
        return (self.sample(bs, g) for _ in range(n))  # regenerated, not stored: 420 MB at paper scale

    def outputs(self, logits: torch.Tensor) -> torch.Tensor:
        return logits[:, -self.num_tokens :]

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = self.outputs(logits)
        return F.cross_entropy(out.reshape(-1, out.shape[-1]).float(), y.reshape(-1))

    def metrics(self, logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """Sums over the batch: per-sequence mean token accuracy, and the loss."""
        out = self.outputs(logits)
        acc = (out.argmax(-1) == y).float().mean(1)
        return {"acc": acc.sum().item(), "loss": self.loss(logits, y).item() * y.shape[0]}
