"""tasks/mqar.py: Zoology's MQAR generator checked by an independent reader of its sequences; loss and
accuracy on query positions only; a tiny model learns it."""

import pytest
import torch
from harness import compose_cfg

from minrnn.harness.train import run
from minrnn.tasks.mqar import IGNORE, MQAR


def read_back(x: torch.Tensor, y: torch.Tensor, P: int, V: int):
    """An independent evaluator: the answer to every query, from the pairs at the start of the sequence."""
    for seq, lab in zip(x.tolist(), y.tolist(), strict=True):
        pairs = dict(zip(seq[0 : 2 * P : 2], seq[1 : 2 * P : 2], strict=True))
        assert len(pairs) == P and all(1 <= k < V // 2 <= v < V for k, v in pairs.items())
        asked = []
        for t in range(2 * P, len(seq)):
            if lab[t] == IGNORE:
                assert seq[t] == 0  # nothing but queries in the query region
            else:
                assert lab[t] == pairs[seq[t]]
                asked.append(seq[t])
        assert sorted(asked) == sorted(pairs)  # every key asked exactly once
        assert all(v == IGNORE for v in lab[: 2 * P])


@pytest.mark.parametrize("L,P,V", [(64, 4, 128), (128, 8, 64), (16, 4, 10)])
def test_every_query_is_answered_by_its_pair(L, P, V):
    task = MQAR(seq_len=L, num_kv_pairs=P, vocab_size=V)
    x, y = task.train_batch(32, step=3)
    assert x.shape == y.shape == (32, L)
    read_back(x, y, P, V)


def test_queries_come_early_more_often_as_zoologys_power_law_says():
    task = MQAR(seq_len=256, num_kv_pairs=4, vocab_size=64)
    _, y = task.train_batch(512, step=0)
    positions = (y != IGNORE).nonzero()[:, 1] - 8
    assert (positions < 64).float().mean() > 0.5 and (positions >= 128).any()


def test_batches_depend_on_seed_and_step_alone_and_eval_sets_are_fixed():
    a, b = MQAR(64, 4, 128, seed=1), MQAR(64, 4, 128, seed=1)
    assert torch.equal(a.train_batch(8, 5)[0], b.train_batch(8, 5)[0])
    assert not torch.equal(a.train_batch(8, 5)[0], a.train_batch(8, 6)[0])
    val1, val2, test = (list(a.eval_batches(s)) for s in ("val", "val", "test"))
    assert all(torch.equal(u[0], v[0]) for u, v in zip(val1, val2, strict=True))
    assert not torch.equal(val1[0][0], test[0][0])


def test_loss_and_accuracy_look_at_query_positions_only():
    task = MQAR(32, 4, 32)
    x, y = task.train_batch(4, 0)
    logits = torch.randn(4, 32, 32)
    right = logits.clone()
    right[y != IGNORE] = -50.0
    right[y != IGNORE, y[y != IGNORE]] = 50.0
    assert task.metrics(right, y)["acc"] == 4.0 and task.loss(right, y) < 1e-6
    noise = right.clone()
    noise[y == IGNORE] = torch.randn_like(noise[y == IGNORE])  # elsewhere: anything
    assert task.loss(noise, y) == task.loss(right, y)
    one_wrong = right.clone()
    q = (y[0] != IGNORE).nonzero()[0, 0]
    one_wrong[0, q] = -one_wrong[0, q]
    assert task.metrics(one_wrong, y)["acc"] == pytest.approx(3.75)


@pytest.mark.parametrize(
    "kw,says",
    [
        ({"vocab_size": 7}, "even vocab_size"),
        ({"num_kv_pairs": 64, "vocab_size": 64}, "distinct keys"),
        ({"seq_len": 15, "num_kv_pairs": 4}, "too short"),
    ],
)
def test_bad_settings_are_one_message(kw, says):
    with pytest.raises(ValueError, match=says):
        MQAR(**{"seq_len": 64, "num_kv_pairs": 4, "vocab_size": 64, **kw})


def test_a_tiny_transformer_learns_to_recall(tmp_path):
    paths = f"logger.mode=disabled trainer.progress=false paths.runs={tmp_path}/runs paths.results={tmp_path}/results"
    over = "task.seq_len=16 task.num_kv_pairs=2 task.vocab_size=16 task.arch.dim=32 trainer.max_steps=300"
    over += " trainer.eval_every=300 trainer.lr=3e-3 trainer.warmup_steps=20 task.eval_batches=2"
    summary = run(compose_cfg(["experiment=recall/transformer", *paths.split(), *over.split()]))
    assert summary["run_name"].startswith("mqar/L16-P2/cpu/transformer-w32-lr0.003-L2-s0-")
    assert summary["metrics"]["test_acc"] > 0.9
