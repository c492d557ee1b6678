"""Chomsky-hierarchy and counting tasks (Deletang et al., 2023; xLSTM's Majority / Majority Count;
the paper's Appendix D, Table 4), as the authors' code defines them (BorealisAI/minRNNs data/*.py).

Each batch has one length, drawn from train_lengths for training and from eval_lengths for
evaluation (xLSTM's protocol: train up to 40, test 40..256, i.e. length generalisation). Every input
ends with query tokens (EMPTY); the answer is read at the last position, or at the last L positions
for bucket sort. Accuracy is the raw per-answer accuracy averaged over evaluation batches (whose
lengths are uniform over eval_lengths), as the authors' code reports it.

| problem | tokens | EMPTY | answer | classes |
|---|---|---|---|---|
| parity_check | bits | 2 | sum mod 2 | 2 |
| even_pairs | bits | 2 | number of unequal adjacent pairs mod 2 (= first != last) | 2 |
| cycle_nav | actions 0,1,2 = -1,0,+1 | 3 | sum(a - 1) mod 5 | 5 |
| bucket_sort | 0..9 | 10 | the tokens sorted, at the L query positions | 10 |
| majority | 0..62 | 63 | the most frequent token (ties: the highest id) | 63 |
| majority_count | 0..62 | 63 | how often the most frequent token occurs (capped at 62, as xLSTM) | 63 |
| missing_duplicate | 0..8 | 9 | tokens, then the first k of them again: the (k+1)-th token | 9 |
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from minrnn.tasks import train_generator

# problem: (number of symbols, EMPTY token = vocab_size - 1, classes)
PROBLEMS = {
    "parity_check": (2, 2),
    "even_pairs": (2, 2),
    "cycle_nav": (3, 5),
    "bucket_sort": (10, 10),
    "majority": (63, 63),
    "majority_count": (63, 63),
    "missing_duplicate": (9, 9),
}
# the six columns of the paper's Table 4 (parity_check is the authors' extra)
TABLE4 = ["bucket_sort", "missing_duplicate", "cycle_nav", "even_pairs", "majority", "majority_count"]


def answer(problem: str, tokens: torch.Tensor, k: int = 0) -> torch.Tensor:
    """The label(s) of each row of symbols (B, L): (B, 1), or (B, L) for bucket sort."""
    if problem == "parity_check":
        return tokens.sum(1, keepdim=True) % 2
    if problem == "even_pairs":
        return (tokens[:, 1:] != tokens[:, :-1]).sum(1, keepdim=True) % 2
    if problem == "cycle_nav":
        return (tokens - 1).sum(1, keepdim=True) % 5
    if problem == "bucket_sort":
        return tokens.sort(1).values
    if problem in ("majority", "majority_count"):
        counts = F.one_hot(tokens, PROBLEMS[problem][0]).sum(1)  # (B, symbols)
        if problem == "majority_count":
            return counts.max(1, keepdim=True).values.clamp(max=PROBLEMS[problem][1] - 1)
        ids = torch.arange(counts.shape[1])
        return (counts * counts.shape[1] + ids).argmax(1, keepdim=True)  # ties -> highest id
    if problem == "missing_duplicate":
        return tokens[:, k : k + 1]
    raise ValueError(f"unknown problem {problem!r}")


class Chomsky:
    # bump when the data generated for a seed changes: task.version, and so the run identity, follow it
    VERSION = 1
    metric = "acc"

    def __init__(
        self,
        problem: str = "parity_check",
        train_lengths: tuple[int, int] = (1, 40),
        eval_lengths: tuple[int, int] = (40, 256),
        seed: int = 0,
        eval_batches: int = 200,
        eval_batch_size: int = 256,
    ):
        if problem not in PROBLEMS:
            raise ValueError(f"unknown Chomsky problem {problem!r}; choose one of {', '.join(PROBLEMS)}")
        for name, (lo, hi) in (("train_lengths", train_lengths), ("eval_lengths", eval_lengths)):
            if not 1 <= lo <= hi:
                raise ValueError(f"{name} must be [min, max] with 1 <= min <= max, got {[lo, hi]}")
        self.problem, self.seed = problem, seed
        self.train_lengths, self.eval_lengths = tuple(train_lengths), tuple(eval_lengths)
        self.symbols, self.dim_out = PROBLEMS[problem]
        self.empty = self.symbols
        self.vocab_size = self.symbols + 1
        self._eval = {"val": (eval_batches, eval_batch_size, 0), "test": (eval_batches, eval_batch_size, 2)}

    def sample(self, batch_size: int, length: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, length + queries) token ids, y (B, answers)."""
        tokens = torch.randint(0, self.symbols, (batch_size, length), generator=g)
        k = 0
        if self.problem == "missing_duplicate":  # one k per batch, as the authors' code
            k = int(torch.randint(0, length, (1,), generator=g))
            tokens_in = torch.cat([tokens, tokens[:, :k]], 1)
        else:
            tokens_in = tokens
        queries = length if self.problem == "bucket_sort" else 1
        x = torch.cat([tokens_in, torch.full((batch_size, queries), self.empty, dtype=torch.long)], 1)
        return x, answer(self.problem, tokens, k)

    def _batch(self, batch_size: int, lengths: tuple[int, int], g: torch.Generator):
        length = int(torch.randint(lengths[0], lengths[1] + 1, (1,), generator=g))
        return self.sample(batch_size, length, g)

    def train_batch(self, batch_size: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._batch(batch_size, self.train_lengths, train_generator(self.seed, step))

    def eval_batches(self, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Fixed sets: validation from seed 0, test from seed 2; each batch one length in eval_lengths."""
        n, bs, seed = self._eval[split]
        g = torch.Generator().manual_seed(seed)
        return (self._batch(bs, self.eval_lengths, g) for _ in range(n))

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = logits[:, -y.shape[1] :]
        return F.cross_entropy(out.reshape(-1, out.shape[-1]).float(), y.reshape(-1))

    def metrics(self, logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """Sums over the batch: per-sequence mean answer accuracy, and the loss."""
        acc = (logits[:, -y.shape[1] :].argmax(-1) == y).float().mean(1)
        return {"acc": acc.sum().item(), "loss": self.loss(logits, y).item() * y.shape[0]}
