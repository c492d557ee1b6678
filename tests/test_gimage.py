import hashlib
import pickle
import tarfile

import numpy as np
import pytest
import torch
from lra_files import write_cifar

from minrnn.tasks.download import DataError
from tasks import gimage as G


def test_splits_follow_lra_and_tokens_are_grayscale_pixels_row_by_row(tmp_path):
    write_cifar(tmp_path, per_batch=20)
    task = G.GImage(path=str(tmp_path))
    assert [len(task.splits[s][0]) for s in ("train", "val", "test")] == [90, 10, 20]  # 90% / 10% of 100
    x, y = next(task.eval_batches("test"))
    assert x.shape == (20, 1024) and 0 <= x.min() and x.max() <= 255 and y[:, 1].eq(1024).all()
    raw, labels = G.read_batch(tmp_path / G.FOLDER / "test_batch")
    assert y[:, 0].tolist() == labels.tolist()
    r, g, b = (float(raw[3, c, 1, 2]) for c in range(3))  # image 3, row 1, column 2
    assert x[3, 1 * 32 + 2].item() == round(0.2989 * r + 0.5870 * g + 0.1140 * b)


def test_grayscale_weights_of_pure_colours():
    img = np.zeros((3, 3, 32, 32), dtype=np.uint8)
    for c in range(3):
        img[c, c] = 255
    assert G.grayscale(img)[:, 0].tolist() == [76, 150, 29]  # 0.2989, 0.5870, 0.1140 of 255


def test_batches_are_deterministic(tmp_path):
    write_cifar(tmp_path)
    a, b = G.GImage(path=str(tmp_path), seed=1), G.GImage(path=str(tmp_path), seed=1)
    assert torch.equal(a.train_batch(8, 3)[0], b.train_batch(8, 3)[0])
    assert not torch.equal(a.train_batch(8, 3)[0], a.train_batch(8, 4)[0])


def test_missing_and_corrupt_files_are_named(tmp_path):
    with pytest.raises(DataError, match=r"cifar-10-batches-py does not exist.*cifar-10-python.tar.gz.*task.path"):
        G.GImage(path=str(tmp_path))
    write_cifar(tmp_path)
    (tmp_path / G.FOLDER / "data_batch_3").write_bytes(b"junk")
    with pytest.raises(DataError, match="data_batch_3 is not a CIFAR-10 python batch"):
        G.GImage(path=str(tmp_path))
    (tmp_path / G.FOLDER / "test_batch").unlink()
    with pytest.raises(DataError, match="test_batch not found"):
        G.read_batch(tmp_path / G.FOLDER / "test_batch")


def test_download_unpacks_the_checked_archive_into_the_cache(tmp_path, monkeypatch):
    src = write_cifar(tmp_path / "src")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / G.FOLDER, arcname=G.FOLDER)
    monkeypatch.setattr(G, "URL", archive.as_uri())
    monkeypatch.setattr(G, "MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    monkeypatch.setitem(__import__("sys").modules, "torchvision", None)  # the fallback path, without torchvision
    task = G.GImage(cache_dir=str(tmp_path / "cache"))
    assert len(task.splits["test"][0]) == 20 and (tmp_path / "cache" / G.FOLDER / "data_batch_5").is_file()
    bad = tmp_path / "cache2" / "cifar-10-python.tar.gz"
    bad.parent.mkdir()
    bad.write_bytes(pickle.dumps("not the archive"))
    with pytest.raises(DataError, match="wrong md5"):
        G.GImage(cache_dir=str(bad.parent))


def test_a_planted_pickle_runs_nothing_and_is_one_message(tmp_path):
    """A pickle can name any callable: a file planted under task.path must not run it."""
    import os
    import pickle

    import pytest

    from minrnn.tasks.download import DataError
    from minrnn.tasks.gimage import read_batch

    marker = tmp_path / "ran"

    class Planted:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Planted(), b"labels": [0]}))
    with pytest.raises(DataError, match="refused to load posix.system"):
        read_batch(path)
    assert not marker.exists()
