"""The training loop shared by every experiment: one function, ``fit``.

Adam/AdamW with linear warm-up and a constant, cosine or linear schedule; gradient clipping and
accumulation; evaluation every ``eval_every`` steps on a fixed validation set, keeping the best
model (the authors' protocol); early stopping on patience or a target; ``trainer.precision``
(minrnn.harness.precision: bf16, fp16 with a GradScaler, or fp32, by the GPU's compute capability).
A checkpoint (model, optimiser, scheduler, RNG states, step, data position, best model, history)
is written atomically to ``run_dir/checkpoint.pt`` at every evaluation and every
``checkpoint_every`` steps, and ``fit`` resumes from it: the task's batches depend only on
(seed, step), so a resumed run continues exactly where it stopped, bit for bit on CPU.
SIGTERM (how Slurm preempts), SIGUSR2 (submitit's signal before a time limit) and SIGINT finish the
current step, save a checkpoint and stop, or hand the signal on to submitit, which requeues the job.
Metrics go to ``run_dir/metrics.jsonl`` and to the logger (W&B).
"""

from __future__ import annotations

import json
import math
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from minrnn.files import atomic_path
from minrnn.formats import CHECKPOINT, METRICS_LINE
from minrnn.harness.precision import Precision
from minrnn.harness.records import write_text_atomic
from minrnn.harness.schema import check_value
from minrnn.layers import MinGRU, MinLSTM
from minrnn.pretrained import load_state
from minrnn.reader import UnreadableFile, read_jsonl, read_torch


class TrainingError(RuntimeError):
    """A run that cannot go on (a non-finite loss, a checkpoint that does not fit); the message says why."""


class Preempted(RuntimeError):
    """A stop signal arrived; the checkpoint was saved at ``step``. Rerunning the command resumes."""

    def __init__(self, signum: int, step: int, path: Path):
        self.signum, self.step, self.path = signum, step, path
        super().__init__(
            f"stopped by {signal.Signals(signum).name} at step {step}; checkpoint saved to {path}. "
            "Rerun the same command to resume."
        )


class StopSignals:
    """Catches SIGTERM, SIGUSR2 and SIGINT while training, so the loop can checkpoint before acting.

    After saving, ``hand_on`` passes the signal to the handler installed before ours: submitit's
    (under hydra-submitit-launcher) requeues the job on SIGUSR2 and ignores SIGTERM, so training goes
    on until it does. With no such handler the run stops (exit 128 + signal in minrnn-train). In a
    local sweep (``sweep``: the run's minrnn.harness.local_sweep.SweepStop, passed down by minrnn-train)
    the signal goes to the sweep, which stops its other runs too, and this run stops.
    Signals can only be caught in the main thread; elsewhere this does nothing.
    """

    NAMES = ("SIGTERM", "SIGUSR2", "SIGINT")

    def __init__(self, enabled: bool = True, sweep=None):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.sweep = sweep
        self.previous: dict[int, object] = {}
        self.pending: list[int] = []

    def __enter__(self):
        for name in self.NAMES if self.enabled else ():
            sig = getattr(signal, name, None)
            if sig is not None:
                self.previous[sig] = signal.signal(sig, self._note)
        if self.sweep is not None and self.sweep.signum():  # the sweep was stopped while this run was set up
            self.pending.append(self.sweep.signum())
        return self

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

    def _note(self, signum, frame):
        self.pending.append(signum)

    def take(self) -> list[int]:
        out, self.pending = self.pending, []
        return out

    def hand_on(self, signum: int) -> bool:
        """Give the signal to the previous handler; True if the run should stop now."""
        prev = self.previous.get(signum)
        if prev is signal.SIG_IGN:
            return False
        if self.sweep is not None:  # the sweep notes it and stops its other runs
            self.sweep(signum, None)
            return True
        if callable(prev) and prev is not signal.default_int_handler:
            prev(signum, None)  # submitit: requeue and exit on SIGUSR2; log and carry on for SIGTERM
            return False
        return True


def build_optimizer(model: torch.nn.Module, cfg) -> torch.optim.Optimizer:
    """Weight decay on matrices only (not biases, norms, nor parameters marked ``_no_weight_decay``, as
    mamba-ssm marks A_log and D); ``decay_rnn: false`` also exempts the minGRU/minLSTM layers' own
    projections, as the authors' code does (main.py: no decay on ``to_hidden_and_gate``); Adam or AdamW."""
    rnn = set()
    if not getattr(cfg, "decay_rnn", True):
        rnn = {id(p) for m in model.modules() if isinstance(m, (MinGRU, MinLSTM)) for p in m.parameters()}
    exempt = lambda p: p.dim() < 2 or getattr(p, "_no_weight_decay", False) or id(p) in rnn  # noqa: E731
    decay = [p for p in model.parameters() if p.requires_grad and not exempt(p)]
    no_decay = [p for p in model.parameters() if p.requires_grad and exempt(p)]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    check_value("trainer.optimizer", cfg.optimizer)
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    return kinds[cfg.optimizer](groups, lr=cfg.lr, betas=tuple(cfg.betas))


def lr_factor(step: int, cfg) -> float:
    """Multiplier of the base lr at ``step``: linear warm-up, then constant, cosine or linear decay."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return 1.0
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    shape = 0.5 * (1 + math.cos(math.pi * progress)) if cfg.schedule == "cosine" else 1 - progress
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * shape


def pick_device(name: str) -> torch.device:
    """trainer.device as a torch device (the schema checked it names one this machine has)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@torch.no_grad()
def evaluate(model, task, batches, device, precision: Precision) -> dict[str, float]:
    """Mean of the task's metrics over fixed batches."""
    model.eval()
    totals, n = {}, 0
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        with precision.autocast():
            logits = model(x)
        for k, v in task.metrics(logits, y).items():
            totals[k] = totals.get(k, 0.0) + v
        n += y.shape[0]
    return {k: v / n for k, v in totals.items()}


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, obj: dict) -> None:
    """torch.save to a temporary file, then rename: a kill mid-write leaves the old checkpoint, and a
    failed write (a full disk) leaves no partial file behind and is one message."""
    try:
        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
    except (OSError, RuntimeError) as e:
        raise TrainingError(
            f"cannot write checkpoint {path} ({str(e).strip().splitlines()[0][:200]}); "
            "the previous checkpoint is intact. Free space and rerun the same command to resume."
        ) from None
    finally:
        if tmp.exists():
            tmp.unlink()


def load_checkpoint(
    path: Path,
    model,
    opt,
    sched,
    fingerprint: str,
    grad_accum: int = 1,
    precision: Precision | None = None,
    commit: str | None = None,
) -> dict:
    """Restore the training state from ``path``; a checkpoint of another config, format or model is one
    message, and a resume across a code change (another commit) says so."""
    try:  # minrnn.reader: regular file, size, weights_only, the fields Run.save writes (an older format migrated)
        ckpt = read_torch(path, CHECKPOINT)
    except UnreadableFile as e:
        raise TrainingError(f"cannot read checkpoint {e}; move it away to start over") from None
    if ckpt["fingerprint"] != fingerprint:
        raise TrainingError(
            f"checkpoint {path} was written by a different model or config; "
            "use another run directory or delete it to start over"
        )
    if ckpt.get("data_position") is not None and ckpt["data_position"] != ckpt["step"] * grad_accum:
        raise TrainingError(
            f"checkpoint {path} is at micro-batch {ckpt['data_position']}, but step {ckpt['step']} "
            f"with trainer.grad_accum={grad_accum} would be {ckpt['step'] * grad_accum}: "
            "grad_accum changed; use the original value or another run directory"
        )
    try:
        load_state(model, ckpt["model"], "its model")  # every tensor's shape compared first: the first misfit named
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        _set_rng_state(ckpt["rng"])
    except (KeyError, RuntimeError, ValueError, TypeError) as e:
        raise TrainingError(
            f"checkpoint {path} does not fit this code's model or format ({type(e).__name__}: "
            f"{str(e).strip().splitlines()[0][:200]}); move it away to start over"
        ) from None
    if ckpt.get("commit") not in (None, commit):
        print(f"resuming {path} written by commit {ckpt['commit']} with code at {commit}", flush=True)
    if precision is not None:
        precision.load_state_dict(ckpt.get("precision"))
    return ckpt


def trim_log(metrics_path: Path, step: int) -> None:
    """Keep metrics.jsonl consistent with a checkpoint at ``step``: drop the lines written after it, and a
    line torn by a kill or a full disk mid-write (said once)."""
    if not metrics_path.exists():
        return
    try:
        records, torn = read_jsonl(metrics_path, METRICS_LINE)
    except UnreadableFile as e:
        raise TrainingError(f"cannot read the metrics log {e}; move it away to start over") from None
    lines = [json.dumps(r) for r in records if r["step"] <= step]
    if torn:
        print(f"{metrics_path}: dropped {torn} torn line(s) (a write cut short)", flush=True)
    write_text_atomic(metrics_path, "".join(ln + "\n" for ln in lines))


SCALER_RETRIES = 64  # fp16: a scale of 2^16 halved 64 times is 2^-48; skips beyond that are not overflow


def accumulate_gradients(model, forward, task, opt, precision: Precision, cfg, step: int, device) -> tuple[float, int]:
    """Forward and backward of step ``step``'s ``grad_accum`` micro-batches: (the loss, tokens seen)."""
    model.train()
    opt.zero_grad(set_to_none=True)
    micro, loss_sum, tokens = cfg.batch_size // cfg.grad_accum, 0.0, 0
    for m in range(cfg.grad_accum):
        x, y = task.train_batch(micro, step * cfg.grad_accum + m)
        x, y = x.to(device), y.to(device)
        with precision.autocast():
            loss = task.loss(forward(x), y) / cfg.grad_accum
        precision.backward(loss)
        loss_sum += loss.item()
        tokens += x.shape[0] * x.shape[1]
    return loss_sum, tokens


@dataclass
class Progress:
    """Where a run stands: what a checkpoint holds besides the model, optimiser and schedule."""

    step: int = 0
    best: float = -math.inf  # sign * the validation metric: larger is better
    best_step: int = 0
    bad_evals: int = 0
    history: list = field(default_factory=list)
    best_state: dict | None = None
    saved_step: int | None = None
    stretches: list = field(default_factory=list)  # each earlier stretch of training: commit, steps, seconds


class Run:
    """One training run's pieces (model, optimiser, schedule, precision, files) and its checkpointing."""

    def __init__(self, model, task, cfg, run_dir: Path, fingerprint: str, commit: str | None):
        self.model, self.task, self.cfg, self.fingerprint, self.commit = model, task, cfg, fingerprint, commit
        self.device = pick_device(cfg.device)
        model.to(self.device)
        self.precision = Precision(cfg.get("precision", "auto"), self.device)
        # trainer.compile: the training forward through torch.compile (the kernels are custom ops, so the
        # graph is whole); evaluation, checkpoints and state dicts use the module itself
        self.forward = torch.compile(model) if cfg.get("compile", False) else model
        self.opt = build_optimizer(model, cfg)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: lr_factor(s, cfg))
        run_dir.mkdir(parents=True, exist_ok=True)
        self.ckpt_path, self.metrics_path = run_dir / "checkpoint.pt", run_dir / "metrics.jsonl"
        self.sign = 1 if getattr(task, "higher_is_better", True) else -1
        self.started, self.first_step = time.perf_counter(), 0

    def resume(self) -> Progress:
        """The progress in the run's checkpoint (its log trimmed to it), or a fresh start."""
        if not self.ckpt_path.exists():
            return Progress()
        ckpt = load_checkpoint(
            self.ckpt_path,
            self.model,
            self.opt,
            self.sched,
            self.fingerprint,
            self.cfg.grad_accum,
            self.precision,
            self.commit,
        )
        p = Progress(ckpt["step"], ckpt["best"], ckpt["best_step"], ckpt["bad_evals"], ckpt["history"])
        p.best_state, p.saved_step, p.stretches = ckpt["best_model"], ckpt["step"], ckpt.get("stretches", [])
        print(f"resuming {self.ckpt_path.parent} from step {p.step}", flush=True)
        trim_log(self.metrics_path, p.step)
        self.first_step = p.step
        return p

    def stretch(self, p: Progress) -> dict:
        """This stretch of training so far."""
        seconds = time.perf_counter() - self.started
        return {"commit": self.commit, "from_step": self.first_step, "to_step": p.step, "seconds": seconds}

    def save(self, p: Progress) -> None:
        save_checkpoint(
            self.ckpt_path,
            {
                "format": CHECKPOINT.tag,
                "fingerprint": self.fingerprint,
                "step": p.step,
                "data_position": p.step * self.cfg.grad_accum,
                "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(),
                "scheduler": self.sched.state_dict(),
                "rng": _rng_state(),
                "best": p.best,
                "best_step": p.best_step,
                "bad_evals": p.bad_evals,
                "history": p.history,
                "best_model": p.best_state,
                "precision": self.precision.state_dict(),
                "commit": self.commit,
                "stretches": [*p.stretches, self.stretch(p)],
            },
        )
        p.saved_step = p.step

    def optimizer_step(self, p: Progress, tokens_seen: int) -> tuple[float, int]:
        """One optimiser step over grad_accum micro-batches: (the loss, tokens seen so far). A non-finite
        loss skips the batch (trainer.on_nonfinite=skip) or stops the run naming the last good checkpoint.

        With fp16, the GradScaler skips the optimiser step when a gradient overflows and halves its scale:
        the same batch is then run again at the lower scale, so the step counter, the schedule and the
        data position count real optimiser steps (a run resumed from a checkpoint still sees each batch
        once per step). SCALER_RETRIES skips in a row stop the run."""
        cfg = self.cfg
        for _ in range(SCALER_RETRIES):
            loss, tokens = accumulate_gradients(
                self.model, self.forward, self.task, self.opt, self.precision, cfg, p.step, self.device
            )
            tokens_seen += tokens
            if not math.isfinite(loss) or self._clip_and_step():
                break
            print(
                f"step {p.step}: inf/NaN gradients at scale {self.precision.scaler.get_scale() * 2:g}; "
                "the GradScaler skipped the step, the batch runs again at half the scale",
                flush=True,
            )
        else:
            raise TrainingError(
                f"step {p.step}: the GradScaler skipped {SCALER_RETRIES} steps in a row (inf/NaN gradients at "
                f"every scale down to {self.precision.scaler.get_scale() * 2:g}); the gradients themselves "
                "are not finite. Try trainer.precision=fp32 or a lower trainer.lr."
            )
        if not math.isfinite(loss):
            if cfg.on_nonfinite != "skip":
                last = f"the last good checkpoint is {self.ckpt_path} (step {p.saved_step})" if p.saved_step else ""
                raise TrainingError(
                    f"non-finite loss {loss} at step {p.step}; {last or 'no checkpoint yet'}. "
                    "Set trainer.on_nonfinite=skip to skip such batches."
                )
            print(f"step {p.step}: non-finite loss {loss}; batch skipped", flush=True)
        self.sched.step()
        p.step += 1
        return loss, tokens_seen

    def _clip_and_step(self) -> bool:
        """Clip (trainer.grad_clip) and step the optimiser; False when the GradScaler skipped the step."""
        if self.cfg.grad_clip:
            self.precision.unscale(self.opt)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        return self.precision.step(self.opt)

    def validate(self, p: Progress, write) -> str | None:
        """Evaluate, keep the best weights, checkpoint; the reason to stop early, if there is one."""
        task, cfg = self.task, self.cfg
        metrics = evaluate(self.model, task, task.eval_batches("val"), self.device, self.precision)
        rec = {"step": p.step, **{f"val_{k}": v for k, v in metrics.items()}}
        p.history.append(rec)
        write(rec)
        score = self.sign * metrics[task.metric]
        if score > p.best:
            p.best, p.best_step, p.bad_evals = score, p.step, 0
            p.best_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        else:
            p.bad_evals += 1
        self.save(p)
        if cfg.stop_at is not None and p.best >= self.sign * cfg.stop_at:
            return f"val {task.metric} reached {cfg.stop_at}"
        if cfg.patience and p.bad_evals >= cfg.patience:
            return f"early stopping: no improvement in {cfg.patience} evaluations"
        return None


def fit(
    model: torch.nn.Module,
    task,
    cfg,
    run_dir: Path,
    logger,
    fingerprint: str = "",
    commit: str | None = None,
    sweep=None,
) -> dict:
    """Train ``model`` on ``task`` with trainer settings ``cfg``; returns the summary metrics. ``commit``
    is recorded in each checkpoint (a resume across a code change says so) with every stretch of training."""
    check_value("trainer.keep", cfg.get("keep", "best"))
    run = Run(model, task, cfg, run_dir, fingerprint, commit)
    p = run.resume()
    stop_reason, tokens_seen = "max_steps", 0
    bar = tqdm(
        total=cfg.max_steps,
        initial=p.step,
        desc=run_dir.name,
        mininterval=2,
        dynamic_ncols=True,
        disable=not cfg.progress,
    )
    # a run that starts without a checkpoint starts a new log: lines left by a run killed before its
    # first checkpoint would otherwise hold those steps twice
    with open(run.metrics_path, "a" if p.step else "w") as mlog, StopSignals(cfg.handle_signals, sweep) as signals:

        def write(rec: dict) -> None:
            mlog.write(json.dumps(rec) + "\n")
            mlog.flush()  # so progress is visible (tail -f, schedulers, the fault-injection suite)
            logger.log(rec, rec["step"])

        while p.step < cfg.max_steps:
            loss, tokens_seen = run.optimizer_step(p, tokens_seen)
            bar.update(1)
            if p.step % cfg.log_every == 0 and math.isfinite(loss):
                rate = tokens_seen / (time.perf_counter() - run.started)
                write({"step": p.step, "train_loss": loss, "lr": run.sched.get_last_lr()[0], "tokens_per_s": rate})
                bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{rate:.0f}")
            if p.step % cfg.eval_every == 0 or p.step == cfg.max_steps:
                reason = run.validate(p, write)
                shown = run.sign * p.best
                bar.write(
                    f"step {p.step}: val {task.metric} {p.history[-1]['val_' + task.metric]:.4f} "
                    f"(best {shown:.4f} at {p.best_step})"
                )
                if reason:
                    stop_reason = reason
                    break
            elif cfg.checkpoint_every and p.step % cfg.checkpoint_every == 0:
                run.save(p)
            for signum in signals.take():
                if p.saved_step != p.step:
                    run.save(p)
                bar.write(f"{signal.Signals(signum).name} at step {p.step}: checkpoint saved to {run.ckpt_path}")
                if signals.hand_on(signum):
                    mlog.flush()
                    bar.close()
                    raise Preempted(signum, p.step, run.ckpt_path)
        bar.close()
        if p.best_state is not None and cfg.get("keep", "best") == "best":
            model.load_state_dict(p.best_state)
        # a signal from here on is noted and dropped: training is over and its last step is saved
        # (the loop ends on an evaluation), so finishing the test evaluation is the quickest way to stop
        test = evaluate(model, task, task.eval_batches("test"), run.device, run.precision)
    logger.log({f"test_{k}": v for k, v in test.items()}, p.step)
    stretches = [*p.stretches, run.stretch(p)]
    return {
        "steps": p.step,
        "stop_reason": stop_reason,
        "best_val": run.sign * p.best,
        "best_step": p.best_step,
        **{f"test_{k}": v for k, v in test.items()},
        "precision": run.precision.name,
        "val_history": p.history,
        "train_seconds_this_session": time.perf_counter() - run.started,
        "stretches": stretches,
        "train_seconds_all_stretches": sum(s["seconds"] for s in stretches),
    }
