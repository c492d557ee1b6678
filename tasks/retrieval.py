"""LRA Retrieval (Tay et al., 2021; the paper's Table 4): do two ACL Anthology Network papers cite
each other? Byte-level documents, each truncated to ``max_length`` (LRA: 4000) bytes, 2 classes.

Data: LRA's released TSV files (lra_release.gz, lra_release/tsv_data/new_aan_pairs.{train,eval,test}.tsv;
no header; columns label, id1, id2, text1, text2). Tokens are byte values + 1 (0 pads, on the right,
so a causal model's outputs at real bytes do not see the padding). LRA's two-tower setup: the same
model encodes both documents, each is mean-pooled over its real bytes into u and v, and an MLP on
[u, v, u * v, u - v] gives the logits (``DualEncoder``, put around the model by ``wrap``).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from minrnn import reader
from minrnn.reader import UnreadableFile
from minrnn.tasks import train_generator
from minrnn.tasks.download import DataError

RELEASE = "https://storage.googleapis.com/long-range-arena/lra_release.gz"
FILES = {"train": "new_aan_pairs.train.tsv", "val": "new_aan_pairs.eval.tsv", "test": "new_aan_pairs.test.tsv"}


def read_tsv(path: Path) -> list[tuple[int, str, str]]:
    """(label, text1, text2) rows of an AAN pairs file."""
    rows = []
    try:
        names = "label, id1, id2, text1, text2"
        for n, fields in enumerate(reader.read_tsv(path, 5, errors="replace", names=names), 1):
            try:
                label = int(float(fields[0]))
            except (ValueError, OverflowError):
                raise UnreadableFile(path, f"line {n}: the label {fields[0]!r} is not a number") from None
            rows.append((label, fields[3], fields[4]))
    except UnreadableFile as e:
        raise DataError(f"{e}: not one of LRA's AAN pairs files") from None
    return rows


def encode_bytes(text: str, max_length: int) -> list[int]:
    return [b + 1 for b in text.encode("utf-8")[:max_length]]


class DualEncoder(nn.Module):
    """LRA's two-tower classifier around a sequence model whose outputs are features (dim_out = dim)."""

    def __init__(self, encoder: nn.Module, dim: int, mlp_dim: int, classes: int = 2):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Sequential(nn.Linear(4 * dim, mlp_dim), nn.ReLU(), nn.Linear(mlp_dim, classes))
        self.implementation = getattr(encoder, "implementation", type(encoder).__name__)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 2, L) byte tokens (0 = padding) -> logits (B, classes)."""
        B, _, L = x.shape
        tokens = x.reshape(2 * B, L)
        h = self.encoder(tokens)
        mask = (tokens != 0).unsqueeze(-1).to(h.dtype)
        pooled = (h * mask).sum(1) / mask.sum(1).clamp(min=1)
        u, v = pooled[:B], pooled[B:]
        return self.head(torch.cat([u, v, u * v, u - v], -1))


class Retrieval:
    metric = "acc"
    vocab_size = 257

    def __init__(
        self,
        path: str | None = None,
        max_length: int = 4000,
        embed_dim: int = 128,
        mlp_dim: int = 512,
        seed: int = 0,
        eval_batch_size: int = 32,
        eval_batches: int | None = None,
        max_eval: int | None = None,
    ):
        folder = Path(path).expanduser() if path else None
        files = {s: folder / f for s, f in FILES.items()} if folder else {}
        missing = [str(f) for f in files.values() if not f.is_file()] if folder else list(FILES.values())
        if missing:
            raise DataError(
                f"AAN retrieval files not found: {', '.join(missing)}. They are in LRA's release "
                f"({RELEASE}, lra_release/tsv_data/); point task.path (or $MINRNN_AAN) at that "
                "folder"
            )
        if max_length < 1:
            raise ValueError(f"task.max_length must be >= 1, got {max_length}")
        self.splits = {s: read_tsv(f) for s, f in files.items()}
        if max_eval:
            self.splits.update({s: rows[:max_eval] for s, rows in self.splits.items() if s != "train"})
        self.max_length, self.embed_dim, self.mlp_dim = max_length, embed_dim, mlp_dim
        self.dim_out = embed_dim  # the encoder's features; DualEncoder classifies
        self.seed, self.eval_batch_size = seed, eval_batch_size
        self.eval_cap = eval_batches  # None: every evaluation batch (the same key in every task)

    def wrap(self, encoder: nn.Module) -> DualEncoder:
        return DualEncoder(encoder, self.embed_dim, self.mlp_dim)

    def encode(self, rows: list[tuple[int, str, str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 2, longest) right-padded byte tokens, y (B,) labels."""
        docs = [[encode_bytes(a, self.max_length), encode_bytes(b, self.max_length)] for _, a, b in rows]
        L = max(1, max(len(d) for pair in docs for d in pair))
        x = torch.zeros(len(rows), 2, L, dtype=torch.long)
        for i, pair in enumerate(docs):
            for j, d in enumerate(pair):
                x[i, j, : len(d)] = torch.tensor(d, dtype=torch.long)
        return x, torch.tensor([label for label, _, _ in rows])

    def train_batch(self, batch_size: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        data = self.splits["train"]
        g = train_generator(self.seed, step)
        return self.encode([data[i] for i in torch.randint(0, len(data), (batch_size,), generator=g).tolist()])

    def eval_batches(self, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        data, bs = self.splits[split], self.eval_batch_size
        return islice((self.encode(data[i : i + bs]) for i in range(0, len(data), bs)), self.eval_cap)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), y)

    def metrics(self, logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        return {
            "acc": (logits.argmax(-1) == y).float().sum().item(),
            "loss": F.cross_entropy(logits.float(), y).item() * len(y),
        }
