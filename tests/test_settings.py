import pytest
from harness import compose_cfg, tiny

from minrnn.harness.train import run


@pytest.mark.parametrize(
    "override,message",
    [
        ("trainer.grad_accum=0", r"trainer.grad_accum=0: must be an integer in \[1, \S+\]"),
        ("trainer.batch_size=0", r"trainer.batch_size=0: must be an integer in \[1, \S+\]"),
        ("seed=abc", r"seed='abc': must be an integer in \[0, 4294967295\]"),
        ("trainer.lr=0", r"trainer.lr=0: must be a finite number in \(0, 1e10\]"),
        ("trainer.lr=nan", r"trainer.lr=nan: must be a finite number in \(0, 1e10\]"),
        ("trainer.max_steps=1.5", r"trainer.max_steps=1.5: must be an integer in \[1, \S+\]"),
        ("trainer.min_lr_ratio=2", r"trainer.min_lr_ratio=2: must be a finite number in \[0, 1\]"),
        ("threads=0", r"threads=0: must be null"),
    ],
)
def test_a_bad_value_is_named_with_its_range_before_anything_is_written(tmp_path, override, message):
    with pytest.raises(ValueError, match=message):
        run(compose_cfg(tiny(tmp_path, override)))
    assert not (tmp_path / "runs").exists()  # refused before the first step


@pytest.mark.parametrize("key", ["paths.results", "paths.runs"])
def test_an_output_path_that_is_a_file_is_refused_before_training(tmp_path, key):
    (tmp_path / "a-file").write_text("keep me")
    with pytest.raises(ValueError, match=rf"{key}=.*a-file.*: is not a folder \(.*a-file is a file\)"):
        run(compose_cfg(tiny(tmp_path, f"{key}={tmp_path}/a-file")))
    assert (tmp_path / "a-file").read_text() == "keep me"
    assert not list(tmp_path.rglob("metrics.jsonl"))
