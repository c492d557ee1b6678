"""ListOps (Nangia & Bowman, 2018) as Long Range Arena builds it (Tay et al., 2021; the paper's Table 4
and Table 6): nested prefix expressions over MIN, MAX, MED (median, truncated to an int) and SM (sum
mod 10) on digits 0-9; the label (10 classes) is the expression's value.

Generation follows LRA's lra_benchmarks/data/listops.py: below max_depth a node is an operator with
probability 0.25, else a digit; an operator takes 2..max_args arguments; whole expressions are kept
when min_length < tokens < max_length, without duplicates. Tokens are the operators, digits and the
closing bracket (LRA's pipeline drops the parentheses of its tree printout). The train/val/test sets
are generated once from the seed (LRA: 96k / 2k / 2k, lengths 500-2000), or read from LRA's released
TSV files (`path`: the folder holding basic_{train,val,test}.tsv). Sequences are left-padded; the
model's outputs are mean-pooled over the real tokens (tasks/pooling.py).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import torch

from minrnn import reader
from minrnn.files import write_text as write_text_atomic
from minrnn.reader import MAX_DATA, Field, Record, UnreadableFile, read_json
from minrnn.tasks import train_generator
from minrnn.tasks.download import DataError
from minrnn.tasks.pooling import PooledClassification

OPERATORS = ["[MIN", "[MAX", "[MED", "[SM"]
END = "]"
VOCAB = ["<pad>", *map(str, range(10)), *OPERATORS, END]  # id 0 pads
IDS = {t: i for i, t in enumerate(VOCAB)}
NON_LEAF_P = 0.25


def apply(op: str, args: list[int]) -> int:
    if op == "[MIN":
        return min(args)
    if op == "[MAX":
        return max(args)
    if op == "[MED":
        s = sorted(args)
        mid = len(s) // 2
        return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) // 2  # int(np.median), values >= 0
    if op == "[SM":
        return sum(args) % 10
    raise ValueError(f"unknown ListOps operator {op!r}")


class TooLong(Exception):
    pass


def generate(rng: random.Random, depth: int, max_depth: int, max_args: int, budget: list[int]) -> tuple[list[str], int]:
    """One (sub)expression as tokens, and its value; raises TooLong once more than budget[0] tokens
    are out (such trees are rejected anyway, so stopping early leaves the kept ones' distribution)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise TooLong
    if depth >= max_depth or rng.random() > NON_LEAF_P:
        v = rng.randrange(10)
        return [str(v)], v
    op = rng.choice(OPERATORS)
    tokens, values = [op], []
    for _ in range(rng.randint(2, max_args)):
        sub, v = generate(rng, depth + 1, max_depth, max_args, budget)
        tokens += sub
        values.append(v)
    budget[0] -= 1  # the closing bracket
    return tokens + [END], apply(op, values)


def make_split(
    n: int,
    seed: int,
    min_length: int,
    max_length: int,
    max_depth: int = 10,
    max_args: int = 10,
    exclude: set | None = None,
) -> list[tuple[str, int]]:
    """n distinct (expression, value) pairs with min_length < tokens < max_length (LRA's filter)."""
    rng, seen, out = random.Random(seed), set(exclude or ()), []
    while len(out) < n:
        try:
            tokens, value = generate(rng, 1, max_depth, max_args, [max_length])
        except TooLong:
            continue
        if min_length < len(tokens) < max_length:
            text = " ".join(tokens)
            if text not in seen:
                seen.add(text)
                out.append((text, value))
    return out


def read_tsv(path: Path) -> list[tuple[str, int]]:
    """LRA's basic_*.tsv: a header, then Source<TAB>Target, Source with parentheses."""
    rows = []
    try:
        for n, (source, target) in enumerate(reader.read_tsv(path, 2, header=True, names="Source, Target"), 2):
            tokens = [t for t in source.replace("(", " ").replace(")", " ").split()]
            if not target.strip().lstrip("-").isdigit():
                raise UnreadableFile(path, f"line {n}: the target {target!r} is not an integer")
            rows.append((" ".join(tokens), int(target)))
    except UnreadableFile as e:
        raise DataError(f"{e}: not one of LRA's ListOps files (basic_*.tsv)") from None
    return rows


# the generated splits' cache (generated_splits): each split a list of [text, value]
SPLITS = Record({k: Field(list, items=Field(list)) for k in ("train", "val", "test")})


def generated_splits(params: list[int], cache_dir: Path | None) -> dict[str, list]:
    """Train/val/test generated from data_seed (disjoint), cached as JSON under cache_dir."""
    n_train, n_eval, lo, hi, depth, args, data_seed = params
    version = ListOps.VERSION  # a generator of another version is cached under another name
    name = f"listops-{'-'.join(map(str, params))}" + (f"-v{version}" if version > 1 else "")
    cache = cache_dir / f"{name}.json" if cache_dir else None
    if cache is not None and (cache.exists() or cache.is_symlink()):
        try:
            splits = read_json(cache, SPLITS, max_bytes=MAX_DATA)
            if all(len(r) == 2 and isinstance(r[0], str) and isinstance(r[1], int) for v in splits.values() for r in v):
                return {k: [tuple(r) for r in splits[k]] for k in ("train", "val", "test")}
            print(f"{cache}: rows are not [text, value] pairs; generated again", flush=True)
        except UnreadableFile as e:
            print(f"{e}; generated again", flush=True)
    train = make_split(n_train, data_seed * 3 + 1, lo, hi, depth, args)
    seen = {t for t, _ in train}
    val = make_split(n_eval, data_seed * 3 + 2, lo, hi, depth, args, seen)
    test = make_split(n_eval, data_seed * 3 + 3, lo, hi, depth, args, seen | {t for t, _ in val})
    splits = {"train": train, "val": val, "test": test}
    if cache is not None:
        write_text_atomic(cache, json.dumps(splits))
    return splits


class ListOps(PooledClassification):
    # bump when the expressions generated for a data_seed change: task.version (the run identity) and
    # the cache's file name follow it (LRA's files, when read, are not generated)
    VERSION = 1
    vocab_size = len(VOCAB)
    dim_out = 10

    def __init__(
        self,
        path: str | None = None,
        n_train: int = 96_000,
        n_eval: int = 2_000,
        min_length: int = 500,
        max_length: int = 2000,
        max_depth: int = 10,
        max_args: int = 10,
        seed: int = 0,
        data_seed: int = 0,
        eval_batch_size: int = 64,
        eval_batches: int | None = None,
        cache_dir: str | None = None,
    ):
        if not 1 <= min_length < max_length - 1:
            raise ValueError(f"need 1 <= min_length < max_length - 1, got {min_length}, {max_length}")
        self.seed, self.eval_batch_size = seed, eval_batch_size
        self.eval_cap = eval_batches  # None: every evaluation batch (the same key in every task)
        if path:
            folder = Path(path).expanduser()
            files = {s: folder / f"basic_{s}.tsv" for s in ("train", "val", "test")}
            missing = [str(f) for f in files.values() if not f.is_file()]
            if missing:
                raise FileNotFoundError(
                    f"ListOps files not found: {', '.join(missing)}. They are in LRA's release "
                    "(https://storage.googleapis.com/long-range-arena/lra_release.gz, lra_release/listops-1000/); "
                    "point task.path at that folder, or leave task.path unset to generate the data"
                )
            self.splits = {s: read_tsv(f) for s, f in files.items()}
        else:  # data_seed fixes the dataset (as LRA's released files do); seed only orders the batches
            params = [n_train, n_eval, min_length, max_length, max_depth, max_args, data_seed]
            self.splits = generated_splits(params, Path(cache_dir).expanduser() if cache_dir else None)

    @staticmethod
    def encode(rows: list[tuple[str, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded token ids (B, longest) and y (B, 2): the label and the number of real tokens
        (the last ones), which the pooling needs."""
        seqs = [[IDS[t] for t in text.split()] for text, _ in rows]
        T = max(map(len, seqs))
        x = torch.zeros(len(seqs), T, dtype=torch.long)
        for i, s in enumerate(seqs):
            x[i, T - len(s) :] = torch.tensor(s)
        return x, torch.tensor([[v, len(s)] for (_, v), s in zip(rows, seqs, strict=True)])

    def train_batch(self, batch_size: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        data = self.splits["train"]
        idx = torch.randint(0, len(data), (batch_size,), generator=train_generator(self.seed, step)).tolist()
        return self.encode([data[i] for i in idx])

    def eval_batches(self, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        data, bs = self.splits[split], self.eval_batch_size
        return islice((self.encode(data[i : i + bs]) for i in range(0, len(data), bs)), self.eval_cap)
