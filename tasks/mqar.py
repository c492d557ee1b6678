"""Multi-query associative recall (MQAR; Arora et al., 2023, "Zoology"): can a fixed state recall what attention can?

A sequence starts with ``num_kv_pairs`` key-value pairs (k1 v1 k2 v2 ...), keys drawn without
replacement from the lower half of the vocabulary and values from the upper half (token 0 is
neither); the rest of the sequence is token 0 with every key asked again once, at a position whose
gap from the start of the query region follows Zoology's power law p(g) ~ g^(a-1), a = 0.01 (most
queries come early, some late). At a query the model must output that key's value. Loss and
accuracy are on the query positions only (Zoology's labels of -100 elsewhere); accuracy is the
fraction of queries answered, per sequence. The generator follows Zoology's ``multiquery_ar``
(``random_non_queries=False``); samples are drawn fresh per step rather than from a fixed training set.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from minrnn.tasks import train_generator

IGNORE = -100


class MQAR:
    # bump when the data generated for a seed changes: task.version, and so the run identity, follow it
    VERSION = 1
    metric = "acc"

    def __init__(
        self,
        seq_len: int = 512,
        num_kv_pairs: int = 64,
        vocab_size: int = 8192,
        power_a: float = 0.01,
        seed: int = 0,
        eval_batches: int = 47,
        eval_batch_size: int = 64,
    ):
        if vocab_size < 4 or vocab_size % 2:
            raise ValueError(f"MQAR needs an even vocab_size >= 4 (keys, values, the empty token), got {vocab_size}")
        if num_kv_pairs < 1 or num_kv_pairs > vocab_size // 2 - 1:
            raise ValueError(f"num_kv_pairs={num_kv_pairs}: must be in 1..{vocab_size // 2 - 1} (distinct keys)")
        if seq_len < 4 * num_kv_pairs:
            raise ValueError(
                f"seq_len={seq_len} is too short for {num_kv_pairs} pairs: the pairs and one query slot per "
                f"pair need 4 x num_kv_pairs = {4 * num_kv_pairs} tokens"
            )
        if not 0 < power_a <= 1:
            raise ValueError(f"power_a={power_a}: must be in (0, 1]")
        self.seq_len, self.num_kv_pairs, self.vocab_size, self.seed = seq_len, num_kv_pairs, vocab_size, seed
        self.dim_out = vocab_size
        self.max_len = seq_len
        slots = (seq_len - 2 * num_kv_pairs) // 2  # query slots: even offsets of the query region
        gaps = torch.arange(1, slots + 1, dtype=torch.float64)
        self.gap_weights = power_a * gaps ** (power_a - 1)
        self._eval = {"val": (eval_batches, eval_batch_size, 0), "test": (eval_batches, eval_batch_size, 2)}

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, seq_len) tokens; y (B, seq_len) the value at each query position, IGNORE elsewhere."""
        P, half = self.num_kv_pairs, self.vocab_size // 2
        keys = torch.rand(batch_size, half - 1, generator=generator).argsort(1)[:, :P] + 1  # distinct, 1..half-1
        values = torch.rand(batch_size, half, generator=generator).argsort(1)[:, :P] + half  # distinct, half..V-1
        context = torch.stack([keys, values], dim=2).flatten(1)  # k1 v1 k2 v2 ...
        weights = self.gap_weights.expand(batch_size, -1)
        gaps = torch.multinomial(weights, P, replacement=False, generator=generator)  # distinct query slots
        queries = torch.zeros(batch_size, self.seq_len - 2 * P, dtype=torch.long)
        queries.scatter_(1, 2 * gaps, keys)
        x = torch.cat([context, queries], dim=1)
        y = torch.full_like(x, IGNORE)
        y.scatter_(1, 2 * P + 2 * gaps, values)
        return x, y

    def train_batch(self, batch_size: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sample(batch_size, train_generator(self.seed, step))

    def eval_batches(self, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Fixed sets: validation from seed 0, test from seed 2 (training batches use odd seeds)."""
        n, bs, seed = self._eval[split]
        g = torch.Generator().manual_seed(seed)
        return (self.sample(bs, g) for _ in range(n))

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1), ignore_index=IGNORE)

    def metrics(self, logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """Sums over the batch: per-sequence fraction of queries answered, and the loss."""
        asked = y != IGNORE
        right = (logits.argmax(-1) == y) & asked
        acc = right.sum(1).float() / asked.sum(1).float()
        return {"acc": acc.sum().item(), "loss": self.loss(logits, y).item() * y.shape[0]}
