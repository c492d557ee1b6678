import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from harness import compose_cfg

from minrnn import generate
from minrnn.harness.train import run
from tasks import shakespeare as S

ROOT = Path(__file__).resolve().parent.parent
TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 40


@pytest.fixture
def corpus(tmp_path) -> Path:
    p = tmp_path / "corpus.txt"
    p.write_text(TEXT)
    return p


def test_vocabulary_splits_and_windows(corpus):
    task = S.Shakespeare(path=str(corpus), md5=None, context=16, seed=1)
    assert task.chars == sorted(set(TEXT)) and task.vocab_size == len(set(TEXT))
    assert len(task.train) == int(0.9 * len(TEXT)) and len(task.train) + len(task.test) == len(TEXT)
    x, y = task.train_batch(4, step=3)
    assert x.shape == y.shape == (4, 16) and torch.equal(x[:, 1:], y[:, :-1])  # next-character targets
    assert torch.equal(x, task.train_batch(4, step=3)[0]) and not torch.equal(x, task.train_batch(4, step=4)[0])
    assert task.decode(task.encode("speak")) == "speak"


def test_local_file_with_the_wrong_checksum_is_named(corpus):
    with pytest.raises(S.DataError, match=r"corpus.txt has md5 .* expected 6fb458f1.*raw.githubusercontent.com"):
        S.Shakespeare(path=str(corpus))


def test_missing_file_names_the_path_the_url_and_the_config_key(tmp_path):
    with pytest.raises(S.DataError, match=r"not found at .*nope.txt.*task.path.*MINRNN_SHAKESPEARE"):
        S.Shakespeare(path=str(tmp_path / "nope.txt"))


def test_download_into_the_cache_verifies_the_checksum(corpus, tmp_path):
    md5 = hashlib.md5(TEXT.encode()).hexdigest()
    cache = tmp_path / "cache"
    got = S.locate(None, str(cache), md5=md5, url=corpus.as_uri())  # the real download path, from a local URL
    assert got == cache / S.FILENAME and got.read_text() == TEXT
    assert [p.name for p in cache.iterdir()] == [S.FILENAME]  # no partial file left
    with pytest.raises(S.DataError, match="could not download file:///nonexistent"):
        S.locate(None, str(tmp_path / "other"), url="file:///nonexistent/input.txt")


def tiny_lm(tmp: Path, corpus: Path, *extra: str) -> list[str]:
    return [
        "task=shakespeare",
        f"task.path={corpus}",
        "task.md5=null",
        "task.context=16",
        "task.eval_batches=2",
        "task.eval_batch_size=8",
        "task.arch.dim=32",
        "task.arch.depth=2",
        "task.arch.heads=2",
        "trainer.batch_size=8",
        "trainer.max_steps=200",
        "trainer.eval_every=100",
        "trainer.warmup_steps=5",
        "logger.mode=disabled",
        "trainer.progress=false",
        f"paths.runs={tmp}/runs",
        f"paths.results={tmp}/results",
        *extra,
    ]


def test_training_lowers_the_loss_and_generation_samples_text(tmp_path, corpus, capsys):
    summary = run(compose_cfg(tiny_lm(tmp_path, corpus)))
    m = summary["metrics"]
    assert m["best_val"] == min(h["val_loss"] for h in m["val_history"])  # lower is better for a loss
    assert m["test_loss"] < 0.6 * torch.log(torch.tensor(float(len(set(TEXT))))).item()  # well below uniform
    run_dir = str(tmp_path / "runs" / summary["run_name"])
    gen = [sys.executable, "scripts/generate.py", run_dir, "--prompt", "All:", "--tokens", "30", "--top-k", "5"]
    out = subprocess.run(gen, cwd=ROOT, capture_output=True, text=True)  # the command line, end to end
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("All:") and len(out.stdout.rstrip("\n")) >= 4 + 1
    capsys.readouterr()
    for argv, message in (  # bad input, in this process: exit code 2 and one line naming the problem
        ([run_dir, "--prompt", "Ω"], "not in the corpus vocabulary"),
        ([run_dir, "--prompt", ""], "--prompt is empty"),
        ([run_dir, "--tokens", "0"], "need --tokens >= 1"),
        ([run_dir, "--temperature", "nan"], "a finite --temperature"),
        ([str(tmp_path / "none")], "summary.json not found"),
    ):
        assert generate.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("generate: error: ") and message in err and err.count("\n") == 1, err
    # exported: the same samples from a folder that needs minrnn alone (no Hydra, no corpus)
    exported = tmp_path / "exported"
    assert generate.main([run_dir, "--export", str(exported)]) == 0
    capsys.readouterr()
    sample = [*gen[2:]]
    assert generate.main(sample) == 0
    from_run = capsys.readouterr().out
    assert generate.main([str(exported), *sample[1:]]) == 0
    assert capsys.readouterr().out == from_run
    assert generate.main([str(exported), *sample[1:], "--eager-step"]) == 0  # minrnn.decode's step: the same text
    assert capsys.readouterr().out == from_run
    code = f"import runpy, sys; sys.argv = ['generate', {str(exported)!r}, '--tokens', '5']; "
    code += "runpy.run_path('scripts/generate.py', run_name='__main__')"
    check = code.replace(
        "run_name='__main__')", "run_name='x'); print([m for m in ('hydra', 'omegaconf') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
    # a planted summary names a class of its own choosing, or a truncated checkpoint: one line, nothing built
    import json
    import shutil

    planted = tmp_path / "planted"
    shutil.copytree(run_dir, planted)
    rec = json.loads((planted / "summary.json").read_text())
    rec["config"]["model"]["net"]["_target_"] = "subprocess.Popen"
    (planted / "summary.json").write_text(json.dumps(rec))
    truncated = tmp_path / "truncated"
    shutil.copytree(run_dir, truncated)
    data = (truncated / "checkpoint.pt").read_bytes()
    (truncated / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    for folder, message in (
        (planted, "'subprocess.Popen', which is not one of minrnn's own"),
        (truncated, "cannot load"),
    ):
        assert generate.main([str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("generate: error: ") and message in err and err.count("\n") == 1, err


@pytest.mark.parametrize("rnn", ["mingru", "minlstm"])
def test_step_mode_sampling_distribution_equals_parallel_logits(rnn):
    """The LM block (Conv4 + minRNN + MLP): softmax of step-mode logits equals parallel mode's at every
    position, so generate() samples from exactly the distribution the trained model defines."""
    from minrnn import SequenceModel
    from minrnn.model import sample

    torch.manual_seed(0)
    block = dict(rnn=rnn, expansion=2, conv=True, mlp=True, mlp_mult=4)
    model = SequenceModel(dim=32, depth=3, dim_out=20, vocab_size=20, block=block).double().eval()
    x = torch.randint(0, 20, (3, 40))
    parallel = torch.softmax(model(x), -1)
    state, step = None, []
    for x_t in x.unbind(1):
        logits, state = model.step(x_t, state)
        step.append(torch.softmax(logits, -1))
    torch.testing.assert_close(torch.stack(step, 1), parallel, rtol=0, atol=1e-12)
    draws = [sample(torch.log(p), 1.0, 5, torch.Generator().manual_seed(7)) for p in (parallel[:, -1], step[-1])]
    assert torch.equal(*draws)  # same generator, same distribution: same tokens
