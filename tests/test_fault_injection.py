"""The fault-injection suite (tests/fault_injection.py), one trial of each kind, plus signal hand-off."""

import os
import random
import signal

import fault_injection as F
import pytest
import torch
from harness import compose_cfg, tiny

from minrnn.harness.train import run
from minrnn.harness.trainer import Preempted


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return F.straight_run(tmp_path_factory.mktemp("straight"))


def test_sigkill_at_a_random_step_then_rerun_equals_an_uninterrupted_run(tmp_path, reference):
    step = random.randrange(5, F.STEPS - 20)
    trial = F.kill_trial(tmp_path, reference, signal.SIGKILL, step)
    assert trial["ok"], f"killed at step {step}: {trial}"
    assert 0 < trial["resumed_from"] <= trial["interrupted_at"] + 5


def test_sigterm_checkpoints_that_step_exits_143_and_resumes_identically(tmp_path, reference):
    step = random.randrange(5, F.STEPS - 20)
    trial = F.kill_trial(tmp_path, reference, signal.SIGTERM, step)
    assert trial["ok"], f"SIGTERM at step {step}: {trial}"
    assert trial["exit_code"] == 143 and trial["resumed_from"] == trial["checkpoint_step"] >= step


@pytest.mark.parametrize("case", F.BAD_INPUTS, ids=[c.name for c in F.BAD_INPUTS])
def test_bad_input_gets_one_clear_message_and_damages_nothing(tmp_path, case):
    result = F.bad_input_trial(tmp_path, case)
    assert result["ok"], result


class KillAtStep:
    """A task wrapper that sends this process a signal when batch ``step`` is drawn."""

    def __init__(self, task, step, sig):
        self.task, self.step, self.sig = task, step, sig

    def __getattr__(self, name):
        return getattr(self.task, name)

    def train_batch(self, batch_size, index):
        if index == self.step:
            os.kill(os.getpid(), self.sig)
        return self.task.train_batch(batch_size, index)


def run_with_signal(tmp_path, sig, step, monkeypatch):
    import minrnn.harness.train as T

    build = T.build
    monkeypatch.setattr(T, "build", lambda cfg: (lambda tm: (KillAtStep(tm[0], step, sig), tm[1]))(build(cfg)))
    return run(compose_cfg(tiny(tmp_path, "trainer.max_steps=20", "trainer.eval_every=10")))


def test_without_a_previous_handler_a_signal_stops_the_run_after_checkpointing(tmp_path, monkeypatch):
    with pytest.raises(Preempted, match="stopped by SIGTERM at step 8") as info:
        run_with_signal(tmp_path, signal.SIGTERM, 7, monkeypatch)
    ckpt = torch.load(info.value.path, weights_only=True)
    assert ckpt["step"] == 8 and ckpt["data_position"] == 8
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def test_a_previous_handler_gets_the_signal_after_the_checkpoint(tmp_path, monkeypatch):
    """Under submitit, SIGUSR2 goes on to submitit's handler (which requeues and exits) once saved."""
    seen = []

    def submitit_like(signum, frame):
        (ckpt,) = (tmp_path / "runs").glob("selective_copy/cpu/*/checkpoint.pt")
        seen.append((signum, torch.load(ckpt, weights_only=True)["step"]))
        raise SystemExit(-1)  # submitit exits after requeueing

    old = signal.signal(signal.SIGUSR2, submitit_like)
    try:
        with pytest.raises(SystemExit):
            run_with_signal(tmp_path, signal.SIGUSR2, 12, monkeypatch)
    finally:
        signal.signal(signal.SIGUSR2, old)
    assert seen == [(signal.SIGUSR2, 13)]


def test_an_ignored_signal_is_checkpointed_and_training_goes_on(tmp_path, monkeypatch):
    old = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    try:
        summary = run_with_signal(tmp_path, signal.SIGUSR2, 3, monkeypatch)
    finally:
        signal.signal(signal.SIGUSR2, old)
    assert summary["metrics"]["steps"] == 20


def test_a_run_cannot_finish_before_its_signal_however_late_the_test_sends_it(tmp_path):
    """The interrupted run pauses HOLD steps before its end (a loaded machine may not schedule the test in
    time); a signal aimed past the end lands there, and the run checkpoints that step and exits 143."""
    code, _, err = F.interrupt(tmp_path, signal.SIGTERM, at_step=10**6, steps=20)
    assert code == 143 and "stopped by SIGTERM" in err, err[-2000:]
    assert F.checkpoint_step(tmp_path) == F.last_logged_step(tmp_path) == 20 - F.HOLD + 1
