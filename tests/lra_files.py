"""Small files in the real formats of LRA's AAN TSVs and CIFAR-10's python pickles, written by tests."""

import pickle
from pathlib import Path

import numpy as np

from minrnn.tasks.gimage import FOLDER, TRAIN_FILES
from minrnn.tasks.retrieval import FILES


def write_cifar(root: Path, per_batch: int = 20, seed: int = 0) -> Path:
    """cifar-10-batches-py/data_batch_1..5 and test_batch: {b"data": (N, 3072) uint8, b"labels": [int]}."""
    rng = np.random.default_rng(seed)
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for name in [*TRAIN_FILES, "test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"labels": rng.integers(0, 10, per_batch).tolist(),
            b"batch_label": name.encode(),
        }
        (folder / name).write_bytes(pickle.dumps(batch))
    return root


def write_aan(folder: Path, rows: int = 12, seed: int = 0) -> Path:
    """new_aan_pairs.{train,eval,test}.tsv: label, id1, id2, text1, text2; no header."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        lines = []
        for i in range(rows):
            a = " ".join(rng.choice(["graph", "parse", "tree", "neural", "corpus"], 6))
            b = a if i % 2 else " ".join(rng.choice(["speech", "vision", "ñandú", "token"], 5))
            lines.append(f"{float(i % 2)}\tid{i}a\tid{i}b\t{a}\t{b}")
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
