"""LRA G-Image (Tay et al., 2021; the paper's Table 4): CIFAR-10 in grayscale as a sequence of 1024
pixel tokens (values 0..255, read row by row), 10 classes, classified by pooling (tasks/pooling.py).

As LRA's input pipeline: grayscale = round(0.2989 R + 0.5870 G + 0.1140 B) (tf.image.rgb_to_grayscale),
train = the first 90% of CIFAR-10's training set (45,000), validation = the last 10% (5,000),
test = the 10,000 test images. The data are CIFAR-10's "python version" (data_batch_1..5,
test_batch pickles) in ``path``/cifar-10-batches-py, the layout torchvision.datasets.CIFAR10 uses: an
existing torchvision download is reused, and a missing one is fetched with torchvision when it is
installed, else from the same URL with the same md5.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import numpy as np
import torch

from minrnn.files import replace_dir
from minrnn.reader import UnreadableFile, read_pickle
from minrnn.tasks import train_generator
from minrnn.tasks.download import DataError, download, md5sum
from minrnn.tasks.pooling import PooledClassification

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
HOW = f"Download {URL} (md5 {MD5}), unpack it and point task.path at the folder holding {FOLDER}/"


# The only classes a CIFAR-10 batch's pickle may build (minrnn.reader.read_pickle): a pickle may name any
# callable, and a file planted under task.path would run it. Object arrays are refused after loading.
ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}
MAX_BATCH_BYTES = 64 * 2**20  # a batch of 10,000 images is 31 MB


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 pickle: images (N, 3, 32, 32) uint8 and labels (N,), built only from ALLOWED."""
    if not path.is_file() and not path.is_symlink():
        raise DataError(f"CIFAR-10 file {path} not found. {HOW}.")
    try:
        d = read_pickle(path, ALLOWED, MAX_BATCH_BYTES, encoding="bytes")
        data, labels = (d.get(k) if isinstance(d, dict) else None for k in (b"data", b"labels"))
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
            raise ValueError(f"data is not a uint8 array of 3072 values per image ({_shape(data)})")
        labels = np.asarray(labels)
        if (
            labels.dtype.kind not in "iu"
            or labels.shape != (len(data),)
            or len(data)
            and not 0 <= labels.min() <= labels.max() < 10
        ):
            raise ValueError(f"labels are not {len(data)} integers in [0, 10) ({_shape(labels)})")
        return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)
    except (UnreadableFile, ValueError, TypeError) as e:
        raise DataError(f"{path} is not a CIFAR-10 python batch ({e}). {HOW}.") from None


def _shape(a) -> str:
    return f"{getattr(a, 'dtype', type(a).__name__)} {getattr(a, 'shape', '')}".strip()


def grayscale(images: np.ndarray) -> np.ndarray:
    """(N, 3, 32, 32) uint8 -> (N, 1024) int64 tokens, row-major, tf.image.rgb_to_grayscale's weights."""
    r, g, b = (images[:, c].astype(np.float64) for c in range(3))
    return np.rint(0.2989 * r + 0.5870 * g + 0.1140 * b).clip(0, 255).astype(np.int64).reshape(len(images), -1)


def fetch(root: Path) -> None:
    """Put cifar-10-batches-py under root: with torchvision if installed, else download and unpack."""
    try:
        from torchvision.datasets import CIFAR10

        CIFAR10(str(root), download=True)
        return
    except ImportError:
        pass
    except Exception as e:  # torchvision's own download failed (offline)
        raise DataError(f"torchvision could not download CIFAR-10 into {root} ({e}). {HOW}.") from None
    archive = root / "cifar-10-python.tar.gz"
    if not archive.is_file():
        download(URL, archive, HOW)
    if md5sum(archive) != MD5:
        raise DataError(f"{archive} has the wrong md5 (expected {MD5}); delete it to download it again. {HOW}.")
    with tarfile.open(archive) as tar:  # into a new folder, put in place once whole (files.replace_dir)
        members = [m for m in tar.getmembers() if m.name.startswith(f"{FOLDER}/")]
        for m in members:
            m.name = m.name[len(FOLDER) + 1 :]
        replace_dir(root / FOLDER, lambda folder: tar.extractall(folder, members=members, filter="data"))


class GImage(PooledClassification):
    vocab_size = 256
    dim_out = 10

    def __init__(
        self,
        path: str | None = None,
        cache_dir: str = "~/.cache/minrnn/data",
        download: bool = True,
        seed: int = 0,
        eval_batch_size: int = 64,
        eval_batches: int | None = None,
        max_eval: int | None = None,
    ):
        root = Path(path or cache_dir).expanduser()
        if not (root / FOLDER).is_dir():
            if path or not download:
                raise DataError(f"CIFAR-10 not found: {root / FOLDER} does not exist (task.path). {HOW}.")
            fetch(root)
        batches = [read_batch(root / FOLDER / name) for name in TRAIN_FILES]
        train_x = grayscale(np.concatenate([b[0] for b in batches]))
        train_y = np.concatenate([b[1] for b in batches])
        test_x, test_y = read_batch(root / FOLDER / "test_batch")
        cut = len(train_x) * 9 // 10  # LRA: train[:90%], validation train[90%:]
        self.splits = {
            "train": (train_x[:cut], train_y[:cut]),
            "val": (train_x[cut:], train_y[cut:]),
            "test": (grayscale(test_x), test_y),
        }
        if max_eval:  # a fixed prefix of the evaluation sets (CPU scale)
            self.splits.update({s: (x[:max_eval], y[:max_eval]) for s, (x, y) in self.splits.items() if s != "train"})
        self.seed, self.eval_batch_size = seed, eval_batch_size
        self.eval_cap = eval_batches  # None: every evaluation batch (the same key in every task)

    @staticmethod
    def encode(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens (B, 1024) and y (B, 2) = (label, 1024 real tokens)."""
        return torch.from_numpy(x), torch.tensor(np.stack([y, np.full(len(y), x.shape[1])], 1), dtype=torch.long)

    def train_batch(self, batch_size: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.splits["train"]
        idx = torch.randint(0, len(x), (batch_size,), generator=train_generator(self.seed, step)).numpy()
        return self.encode(x[idx], y[idx])

    def eval_batches(self, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y = self.splits[split]
        bs = self.eval_batch_size
        return islice((self.encode(x[i : i + bs], y[i : i + bs]) for i in range(0, len(x), bs)), self.eval_cap)
