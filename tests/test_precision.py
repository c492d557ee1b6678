"""minrnn/harness/precision.py: trainer.precision chosen by the GPU generation, and the fp16 GradScaler
path through real training steps (on CPU, where torch's autocast and GradScaler also run)."""

import json

import pytest
import torch
from harness import compose_cfg, tiny

from minrnn.harness.config import identity
from minrnn.harness.precision import Precision, choose
from minrnn.harness.train import run

CUDA = torch.device("cuda")


@pytest.mark.parametrize(
    "capability,expected",
    [((6, 0), "fp32"), ((6, 1), "fp32"), ((7, 0), "fp16"), ((7, 5), "fp16"), ((8, 0), "bf16"), ((9, 0), "bf16")],
)
def test_auto_picks_by_compute_capability(capability, expected):
    # P100 (6.0): no bf16 GEMMs; V100 (7.0), T4 (7.5): fp16 tensor cores only; A100 (8.0), H100 (9.0): bf16
    assert choose("auto", CUDA, capability) == expected


def test_cpu_auto_is_fp32_and_named_values_are_kept():
    assert choose("auto", torch.device("cpu")) == "fp32"
    assert [choose(p, CUDA, (7, 5)) for p in ("fp32", "fp16", "bf16")] == ["fp32", "fp16", "bf16"]


def test_bf16_on_a_p100_and_unknown_names_are_one_message():
    with pytest.raises(ValueError, match="compute capability 6.x has no bf16"):
        choose("bf16", CUDA, (6, 0))
    with pytest.raises(ValueError, match="trainer.precision='half': must be one of auto, fp32, fp16, bf16"):
        choose("half", torch.device("cpu"))


def test_only_fp16_gets_a_grad_scaler():
    assert Precision("auto", CUDA, (7, 5)).scaler is not None
    assert Precision("auto", CUDA, (8, 0)).scaler is None and Precision("auto", CUDA, (6, 0)).dtype is None


def test_an_fp16_run_trains_through_the_grad_scaler_and_resumes_with_its_scale(tmp_path):
    steps = "trainer.max_steps=40 trainer.eval_every=20 trainer.lr=3e-3".split()
    summary = run(compose_cfg(tiny(tmp_path, "trainer.precision=fp16", *steps)))
    assert summary["metrics"]["precision"] == "fp16"
    ckpt = torch.load(tmp_path / f"runs/{summary['run_name']}/checkpoint.pt", weights_only=True)
    assert ckpt["precision"]["name"] == "fp16" and ckpt["precision"]["scaler"]["scale"] > 0
    log = [json.loads(x) for x in (tmp_path / f"runs/{summary['run_name']}/metrics.jsonl").open()]
    losses = [x["train_loss"] for x in log if "train_loss" in x]
    assert losses[-1] < losses[0] and all(map(torch.isfinite, torch.tensor(losses)))
    # stopped at 20 and resumed: the same as straight through (the scaler's state is in the checkpoint)
    run(compose_cfg(tiny(tmp_path / "b", "trainer.precision=fp16", *steps[1:], "trainer.max_steps=20")))
    resumed = run(compose_cfg(tiny(tmp_path / "b", "trainer.precision=fp16", *steps)))
    assert resumed["metrics"]["val_history"] == summary["metrics"]["val_history"]


def test_precision_auto_keeps_the_identity_of_results_committed_with_amp_true():
    config = {"trainer": {"lr": 1e-3, "precision": "auto"}, "task": {"x": 1}}
    assert identity(config) == identity({"trainer": {"lr": 1e-3, "amp": True}, "task": {"x": 1}})
    assert identity(config) != identity({"trainer": {"lr": 1e-3, "precision": "fp16"}, "task": {"x": 1}})


def test_steps_the_grad_scaler_skips_are_run_again_and_do_not_advance_the_schedule(tmp_path, monkeypatch, capsys):
    """fp16 with a scale so large that the first gradients overflow: the GradScaler skips those optimiser
    steps; each batch runs again at half the scale, and the step counter, the schedule and the optimiser's
    own count all end at max_steps (before, skipped steps advanced the schedule and were never made up)."""
    import functools

    monkeypatch.setattr(torch.amp, "GradScaler", functools.partial(torch.amp.GradScaler, init_scale=2.0**40))
    summary = run(compose_cfg(tiny(tmp_path, "trainer.precision=fp16", "trainer.max_steps=6")))
    skips = capsys.readouterr().out.count("the GradScaler skipped the step")
    ckpt = torch.load(tmp_path / f"runs/{summary['run_name']}/checkpoint.pt", weights_only=True)
    assert skips >= 10  # 2^40 down to below fp16's range of gradients
    assert ckpt["step"] == ckpt["scheduler"]["last_epoch"] == 6
    assert {int(s["step"]) for s in ckpt["optimizer"]["state"].values()} == {6}  # AdamW stepped 6 times
    assert ckpt["precision"]["scaler"]["scale"] == 2.0**40 / 2**skips  # halved once per skip
