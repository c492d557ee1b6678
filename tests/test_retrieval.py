import pytest
import torch
from harness import compose_cfg
from lra_files import write_aan

from minrnn.harness.train import run
from minrnn.model import SequenceModel
from minrnn.tasks.download import DataError
from tasks import retrieval as R


def test_reads_lras_tsvs_and_encodes_bytes_right_padded(tmp_path):
    write_aan(tmp_path)
    task = R.Retrieval(path=str(tmp_path), max_length=20, embed_dim=8)
    assert [len(task.splits[s]) for s in ("train", "val", "test")] == [12, 12, 12]
    label, a, b = task.splits["train"][1]
    assert label == 1 and a == b
    x, y = task.encode([(0, "ab", "ñ"), (1, "x" * 30, "")])
    assert x.shape == (2, 2, 20) and y.tolist() == [0, 1]
    assert x[0, 0, :3].tolist() == [ord("a") + 1, ord("b") + 1, 0]
    assert x[0, 1, :3].tolist() == [0xC3 + 1, 0xB1 + 1, 0]  # UTF-8 bytes of ñ, + 1
    assert x[1, 0].tolist() == [ord("x") + 1] * 20 and x[1, 1].eq(0).all()  # truncated; empty


def test_the_two_towers_ignore_padding():
    torch.manual_seed(0)
    enc = SequenceModel(dim=8, depth=2, dim_out=8, vocab_size=257, block={"rnn": "minlstm", "conv": True, "mlp": True})
    model = R.DualEncoder(enc, dim=8, mlp_dim=16).eval()
    x = torch.randint(1, 257, (3, 2, 10))
    x[0, 1, 6:] = 0
    padded = torch.cat([x, torch.zeros(3, 2, 7, dtype=torch.long)], -1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(padded))
        swapped = model(x.flip(1))
    assert model(x).shape == (3, 2) and not torch.allclose(swapped, model(x))  # u - v: order matters


def test_missing_and_malformed_files_are_named(tmp_path):
    with pytest.raises(DataError, match=r"new_aan_pairs.eval.tsv.*lra_release.gz.*task.path"):
        (tmp_path / "new_aan_pairs.train.tsv").write_text("")
        R.Retrieval(path=str(tmp_path))
    write_aan(tmp_path)
    (tmp_path / "new_aan_pairs.test.tsv").write_text("1\tid\tonly three\n")
    with pytest.raises(DataError, match=r"new_aan_pairs.test.tsv: line 1: expected 5 tab-separated fields"):
        R.Retrieval(path=str(tmp_path))


def test_config_trains_and_files_the_run(tmp_path):
    write_aan(tmp_path / "aan")
    over = [
        "task=retrieval",
        "model=minlstm",
        f"task.path={tmp_path}/aan",
        "task.arch.dim=16",
        "trainer.max_steps=4",
        "trainer.eval_every=2",
        "trainer.batch_size=4",
        "logger.mode=disabled",
        "trainer.progress=false",
        f"paths.runs={tmp_path}/runs",
        f"paths.results={tmp_path}/results",
    ]
    summary = run(compose_cfg(over))
    assert summary["run_name"] == f"lra/retrieval/cpu/minlstm-L2-s0-{summary['identity']}"
    assert (tmp_path / f"results/{summary['run_name']}.json").exists()
    assert summary["metrics"]["test_acc"] in {k / 12 for k in range(13)}  # a fraction of the 12 test pairs
