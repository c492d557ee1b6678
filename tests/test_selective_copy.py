import pytest
import torch

from minrnn.tasks.selective_copy import SelectiveCopy


def test_sequences_hold_the_data_tokens_in_order_then_markers():
    task = SelectiveCopy(seq_len=50, num_tokens=6, seed=3)
    x, y = task.train_batch(32, step=7)
    assert x.shape == (32, 56) and y.shape == (32, 6)
    body, markers = x[:, :50], x[:, 50:]
    assert (markers == task.marker).all()
    data = body != task.noise
    assert (data.sum(1) == 6).all()  # exactly num_tokens data tokens among the noise
    assert torch.equal(body[data].view(32, 6), y)  # read left to right, they are the targets
    assert ((y >= 1) & (y <= 14)).all()  # never the noise (15) or marker (0) token


def test_batches_are_a_function_of_seed_and_step():
    a, b = SelectiveCopy(seq_len=40, seed=1), SelectiveCopy(seq_len=40, seed=1)
    assert torch.equal(a.train_batch(8, 5)[0], b.train_batch(8, 5)[0])
    assert not torch.equal(a.train_batch(8, 5)[0], a.train_batch(8, 6)[0])
    assert not torch.equal(a.train_batch(8, 5)[0], SelectiveCopy(seq_len=40, seed=2).train_batch(8, 5)[0])


def test_eval_sets_are_fixed_and_distinct():
    t = SelectiveCopy(seq_len=40, eval_batches=2, eval_batch_size=4, seed=9)
    val, test = list(t.eval_batches("val")), list(t.eval_batches("test"))
    assert len(val) == 2 and torch.equal(val[1][1], list(t.eval_batches("val"))[1][1])  # same set every call
    assert torch.equal(
        val[0][0], list(SelectiveCopy(seq_len=40, eval_batches=2, eval_batch_size=4).eval_batches("val"))[0][0]
    )
    assert not torch.equal(val[0][0], test[0][0])


def test_accuracy_reads_the_last_positions():
    t = SelectiveCopy(seq_len=10, num_tokens=3)
    x, y = t.train_batch(4, 0)
    logits = torch.zeros(4, 13, 16)
    logits[:, -3:].scatter_(2, y.unsqueeze(-1), 10.0)  # perfect predictions at the marker positions
    assert t.metrics(logits, y)["acc"] == 4.0  # a sum over the batch


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="num_tokens <= seq_len"):
        SelectiveCopy(seq_len=4, num_tokens=5)
