"""Character-level language modelling on Tiny Shakespeare (the paper's Section 4.2, Figure 2).

nanoGPT's setting: the 65 characters of the corpus are the vocabulary; the first 90% of the text
(1,003,854 characters) is the training split, the last 10% (111,540) the test split, on which the
paper reports its loss curves (so validation and test are the same split here). Training windows
of ``context`` characters are drawn at random offsets that depend only on (seed, step).

The corpus comes from ``path`` (``task.path`` or $MINRNN_SHAKESPEARE), or is downloaded from its
public home into ``cache_dir`` and checked against its md5.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F

from minrnn.reader import UnreadableFile, read_text
from minrnn.tasks import train_generator
from minrnn.tasks.download import DataError, download, md5sum

URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
MD5 = "6fb458f1232090904fb40fe944165e91"
FILENAME = "tinyshakespeare.txt"
HOW = f"Download {URL} and point task.path (or $MINRNN_SHAKESPEARE) at it"


def locate(path: str | None, cache_dir: str, md5: str | None = MD5, url: str = URL) -> Path:
    """The corpus file: the given path, else the cached download (fetched if absent); md5-checked."""
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise DataError(f"Tiny Shakespeare not found at {p} (task.path / $MINRNN_SHAKESPEARE). {HOW}.")
    else:
        p = Path(cache_dir).expanduser() / FILENAME
        if not p.is_file():
            download(url, p, HOW)
    if md5 and (got := md5sum(p)) != md5:
        raise DataError(
            f"{p} has md5 {got}, expected {md5} (truncated or a different file). {HOW}, or set "
            "task.md5=null to use another corpus."
        )
    return p


def encode(stoi: dict[str, int], s: str) -> torch.Tensor:
    """Token ids of ``s``; a character outside the vocabulary is one message naming it."""
    unknown = sorted(set(s) - set(stoi))
    if unknown:
        raise ValueError(f"characters not in the corpus vocabulary: {unknown!r}")
    return torch.tensor([stoi[c] for c in s], dtype=torch.long)


class Characters:
    """A character vocabulary without its corpus (an exported model's): encode and decode as the task."""

    def __init__(self, chars: str):
        self.chars, self.stoi = chars, {c: i for i, c in enumerate(chars)}

    def encode(self, s: str) -> torch.Tensor:
        return encode(self.stoi, s)

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)


class Shakespeare:
    metric = "loss"
    higher_is_better = False

    def __init__(
        self,
        path: str | None = None,
        cache_dir: str = "~/.cache/minrnn/data",
        md5: str | None = MD5,
        context: int = 256,
        seed: int = 0,
        eval_batches: int = 50,
        eval_batch_size: int = 64,
        train_fraction: float = 0.9,
    ):
        try:
            text = read_text(locate(path, cache_dir, md5))
        except UnreadableFile as e:
            raise DataError(f"{e}: not a text corpus this code reads. {HOW}.") from None
        self.chars = sorted(set(text))
        self.vocab_size = self.dim_out = len(self.chars)
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        data = torch.tensor([self.stoi[c] for c in text], dtype=torch.long)
        n = int(train_fraction * len(data))
        self.train, self.test = data[:n], data[n:]
        if len(self.test) <= context or len(self.train) <= context:
            raise ValueError(f"context={context} is longer than a split ({len(self.train)} / {len(self.test)} chars)")
        self.context, self.seed, self.max_len = context, seed, context
        self.eval_batches_n, self.eval_batch_size = eval_batches, eval_batch_size

    def encode(self, s: str) -> torch.Tensor:
        return encode(self.stoi, s)

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)

    def _windows(self, data: torch.Tensor, batch_size: int, g: torch.Generator):
        starts = torch.randint(0, len(data) - self.context - 1, (batch_size,), generator=g)
        idx = starts[:, None] + torch.arange(self.context + 1)
        chunk = data[idx]
        return chunk[:, :-1], chunk[:, 1:]

    def train_batch(self, batch_size: int, step: int):
        return self._windows(self.train, batch_size, train_generator(self.seed, step))

    def eval_batches(self, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """A fixed set of test-split windows (the paper's curves are test loss), the same every call."""
        g = torch.Generator().manual_seed(0)
        return (self._windows(self.test, self.eval_batch_size, g) for _ in range(self.eval_batches_n))

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))

    def metrics(self, logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        return {"loss": self.loss(logits, y).item() * y.shape[0]}
