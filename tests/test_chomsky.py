from collections import Counter

import pytest
import torch
from harness import compose_cfg

from minrnn.harness.train import run
from minrnn.tasks.chomsky import PROBLEMS, Chomsky


def batches(problem, n=30, lengths=(1, 40), bs=16):
    task = Chomsky(problem, train_lengths=lengths, eval_lengths=(40, 64))
    return task, [task.train_batch(bs, step) for step in range(n)]


@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_deterministic_per_seed_and_step(problem):
    a, b = Chomsky(problem, seed=3), Chomsky(problem, seed=3)
    for step in (0, 7):
        xa, ya = a.train_batch(8, step)
        xb, yb = b.train_batch(8, step)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    val = [x for x, _ in a.eval_batches("val")]
    assert all(torch.equal(u, v) for u, v in zip(val, [x for x, _ in b.eval_batches("val")], strict=True))


@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_lengths_follow_the_protocol_and_inputs_end_with_queries(problem):
    task = Chomsky(problem, eval_batches=20, eval_batch_size=2)
    for step in range(40):
        x, y = task.train_batch(4, step)
        assert (x[:, -y.shape[1] :] == task.empty).all() and x.max() <= task.empty and y.max() < task.dim_out
        n = y.shape[1] if problem == "bucket_sort" else x.shape[1] - 1
        assert problem == "missing_duplicate" or 1 <= n <= 40
    lengths = {x.shape[1] - (x.shape[1] // 2 if problem == "bucket_sort" else 1) for x, _ in task.eval_batches("test")}
    assert problem == "missing_duplicate" or all(40 <= n <= 256 for n in lengths)


def test_even_pairs_label_is_first_symbol_differs_from_last():
    task, bs = batches("even_pairs")
    for x, y in bs:
        s = x[:, :-1]
        assert torch.equal(y[:, 0], (s[:, 0] != s[:, -1]).long())


def test_bucket_sort_targets_are_the_sorted_input():
    task, bs = batches("bucket_sort")
    for x, y in bs:
        s = x[:, : y.shape[1]]
        assert x.shape[1] == 2 * y.shape[1]
        for row_s, row_y in zip(s.tolist(), y.tolist(), strict=True):
            assert row_y == sorted(row_s)


@pytest.mark.parametrize("problem", ["parity_check", "cycle_nav", "majority", "majority_count"])
def test_labels_match_an_independent_python_evaluator(problem):
    def truth(seq):
        if problem == "parity_check":
            return sum(seq) % 2
        if problem == "cycle_nav":
            pos = 0
            for a in seq:
                pos = (pos + {0: -1, 1: 0, 2: 1}[a]) % 5
            return pos
        counts = Counter(seq)
        top = max(counts.values())
        return max(t for t, c in counts.items() if c == top) if problem == "majority" else min(top, 62)

    task, bs = batches(problem, lengths=(1, 120))
    for x, y in bs:
        for row, label in zip(x[:, :-1].tolist(), y[:, 0].tolist(), strict=True):
            assert label == truth(row)


def test_missing_duplicate_predicts_the_next_token_of_the_copy():
    task, bs = batches("missing_duplicate")
    for x, y in bs:
        body = x[:, :-1]
        n = None
        for L in range(1, body.shape[1] + 1):  # body = tokens (L) + tokens[:k] with k < L
            k = body.shape[1] - L
            if 0 <= k < L and torch.equal(body[:, L:], body[:, :k]):
                n = L
                break
        assert n is not None and torch.equal(y[:, 0], body[:, body.shape[1] - n])


def test_unknown_problem_and_bad_lengths_are_clear_errors():
    with pytest.raises(ValueError, match="unknown Chomsky problem 'nosuch'; choose one of"):
        Chomsky("nosuch")
    with pytest.raises(ValueError, match="eval_lengths must be"):
        Chomsky("parity_check", eval_lengths=(50, 40))


def test_config_runs_a_problem_and_files_it_under_its_name(tmp_path):
    over = [
        "task=chomsky",
        "task.problem=cycle_nav",
        "logger.mode=disabled",
        "trainer.progress=false",
        f"paths.runs={tmp_path}/runs",
        f"paths.results={tmp_path}/results",
        "task.arch.dim=16",
        "trainer.max_steps=4",
        "trainer.eval_every=2",
        "task.eval_batches=2",
        "task.eval_batch_size=8",
        "task.eval_lengths=[40,48]",
    ]
    summary = run(compose_cfg(over))
    assert summary["run_name"] == f"chomsky/cycle_nav/cpu/mingru-L2-s0-{summary['identity']}"
    assert (tmp_path / f"results/{summary['run_name']}.json").exists()
    assert summary["config"]["task"]["arch"]["conv"] is False and 0 <= summary["metrics"]["test_acc"] <= 1
