import statistics

import pytest
import torch
from harness import compose_cfg

from minrnn.harness.train import run
from minrnn.tasks.listops import IDS, VOCAB, ListOps, make_split, read_tsv

SMALL = dict(n_train=300, n_eval=40, min_length=10, max_length=60)


def evaluate(tokens: list[str]) -> int:
    """An independent evaluator: a stack machine over the prefix tokens."""
    ops = {"[MIN": min, "[MAX": max, "[MED": lambda a: int(statistics.median(a)), "[SM": lambda a: sum(a) % 10}
    stack = [[]]
    for t in tokens:
        if t in ops:
            stack.append([t])
        elif t == "]":
            op, *args = stack.pop()
            stack[-1].append(ops[op](args))
        else:
            stack[-1].append(int(t))
    assert len(stack) == 1 and len(stack[0]) == 1, "not one well-formed expression"
    return stack[0][0]


def test_labels_are_the_values_of_the_expressions():
    rows = make_split(300, seed=1, min_length=10, max_length=200, max_depth=6, max_args=5)
    ops = {t.split()[0] for t, _ in rows}
    assert ops <= {"[MIN", "[MAX", "[MED", "[SM"} and len(ops) == 4
    for text, label in rows:
        assert evaluate(text.split()) == label


def test_lengths_filter_and_splits_are_disjoint_and_deterministic():
    a, b = ListOps(**SMALL, data_seed=4), ListOps(**SMALL, data_seed=4)
    assert a.splits == b.splits
    assert ListOps(**SMALL, data_seed=5).splits["train"] != a.splits["train"]
    texts = {s: [t for t, _ in rows] for s, rows in a.splits.items()}
    assert [len(texts[s]) for s in ("train", "val", "test")] == [300, 40, 40]
    assert all(10 < len(t.split()) < 60 for rows in texts.values() for t in rows)
    assert len(set(texts["train"]) | set(texts["val"]) | set(texts["test"])) == 380  # no duplicates anywhere
    x1, y1 = a.train_batch(8, step=3)
    x2, y2 = b.train_batch(8, step=3)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(a.train_batch(8, step=4)[0], x1)


def test_all_ten_classes_occur():
    labels = {v for _, v in make_split(400, seed=2, min_length=5, max_length=100)}
    assert labels == set(range(10))


def test_encoding_is_left_padded_and_pooling_averages_only_real_tokens():
    rows = [("[MAX 2 9 ]", 9), ("[SM 1 2 3 4 5 ]", 5)]
    x, y = ListOps.encode(rows)
    assert x.shape == (2, 7) and y.tolist() == [[9, 4], [5, 7]]
    assert x[0].tolist() == [0, 0, 0, IDS["[MAX"], IDS["2"], IDS["9"], IDS["]"]]
    assert [VOCAB[i] for i in x[1].tolist()] == "[SM 1 2 3 4 5 ]".split()
    logits = torch.randn(2, 7, 10)
    pooled = ListOps.pooled(logits, y)
    torch.testing.assert_close(pooled[0], logits[0, 3:].mean(0))
    torch.testing.assert_close(pooled[1], logits[1].mean(0))
    logits[0, :3] = 1e6  # padding positions never reach the loss
    assert ListOps(**SMALL).loss(logits, y).item() < 1e3


def test_reads_lras_tsv_files(tmp_path):
    """LRA's basic_*.tsv: a Source/Target header, the source with its tree's parentheses."""
    rows = make_split(5, seed=3, min_length=5, max_length=40)

    def with_parens(text):  # LRA writes every token after an operator inside "( ... )"
        return " ".join(f"( {t}" if t.startswith("[") else (f"{t} )" if t == "]" else t) for t in text.split())

    for split in ("train", "val", "test"):
        lines = ["Source\tTarget", *(f"{with_parens(t)}\t{v}" for t, v in rows)]
        (tmp_path / f"basic_{split}.tsv").write_text("\n".join(lines) + "\n")
    assert read_tsv(tmp_path / "basic_val.tsv") == rows
    task = ListOps(path=str(tmp_path))
    assert task.splits["test"] == rows


def test_missing_files_name_the_file_and_the_release(tmp_path):
    (tmp_path / "basic_train.tsv").write_text("Source\tTarget\n")
    with pytest.raises(FileNotFoundError, match=r"basic_val.tsv.*lra_release.gz.*task.path"):
        ListOps(path=str(tmp_path))


def test_generated_sets_are_cached(tmp_path, monkeypatch):
    a = ListOps(**SMALL, cache_dir=str(tmp_path))
    assert len(list(tmp_path.glob("listops-*.json"))) == 1

    def no_generation(*args, **kwargs):
        raise AssertionError("regenerated instead of reading the cache")

    monkeypatch.setattr("minrnn.tasks.listops.make_split", no_generation)
    assert ListOps(**SMALL, cache_dir=str(tmp_path)).splits == a.splits


def test_a_tiny_model_learns_one_level_expressions(tmp_path):
    """Depth-1 MAX/MIN/MED/SM over a few digits: a small conv + minLSTM + MLP model beats chance well."""
    over = [
        "experiment=table4/lra_minlstm",
        "logger.mode=disabled",
        "trainer.progress=false",
        f"paths.runs={tmp_path}/runs",
        f"paths.results={tmp_path}/results",
        "task.cache_dir=null",
        "task.n_train=2000",
        "task.n_eval=200",
        "task.min_length=3",
        "task.max_length=8",
        "task.max_depth=2",
        "task.max_args=4",
        "task.arch.dim=32",
        "task.arch.depth=2",
        "trainer.max_steps=400",
        "trainer.warmup_steps=20",
        "trainer.lr=3e-3",
        "trainer.eval_every=400",
        "trainer.batch_size=32",
    ]
    summary = run(compose_cfg(over))
    assert summary["run_name"] == f"lra/listops/cpu/minlstm-L2-s0-{summary['identity']}"
    assert (tmp_path / f"results/{summary['run_name']}.json").exists()
    assert summary["metrics"]["test_acc"] > 0.45  # chance is about 0.15 (the most frequent class)


@pytest.mark.parametrize(
    "preset,tag,conv,mlp",
    [
        ("table6/minlstm_plain", "-plain", False, False),
        ("table6/minlstm_conv", "-conv", True, False),
        ("table6/minlstm_mlp", "-mlp", False, True),
        ("table6/minlstm_conv_mlp", "", True, True),
    ],
)
def test_table6_presets_pick_the_blocks_and_name_the_runs(preset, tag, conv, mlp):
    cfg = compose_cfg([f"experiment={preset}"])
    assert (cfg.task.arch.conv, cfg.task.arch.mlp) == (conv, mlp)
    assert cfg.run_name.startswith(f"lra/listops/cpu/minlstm{tag}-L4-s0-")


def test_figure5_preset_names_runs_by_forget_bias():
    cfg = compose_cfg(["experiment=figure5/minlstm", "model.net.block.rnn_kwargs.forget_bias=1.0"])
    assert cfg.run_name.startswith("lra/listops/cpu/minlstm-fb1.0-L4-s0-")
    assert cfg.task.arch.conv and cfg.task.arch.mlp
