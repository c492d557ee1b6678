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
import os
import random
import signal
import threading
import time
from pathlib import Path

import torch
from tqdm import tqdm

from minrnn.harness.precision import Precision
from minrnn.harness.records import write_text_atomic


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
    on until it does. With no such handler the run stops (exit 128 + signal in minrnn-train).
    Signals can only be caught in the main thread; elsewhere this does nothing.
    """

    NAMES = ("SIGTERM", "SIGUSR2", "SIGINT")

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.previous: dict[int, object] = {}
        self.pending: list[int] = []

    def __enter__(self):
        for name in self.NAMES if self.enabled else ():
            sig = getattr(signal, name, None)
            if sig is not None:
                self.previous[sig] = signal.signal(sig, self._note)
        sweep = self.previous.get(signal.SIGINT)
        if getattr(sweep, "stops_run", False) and sweep.signum():  # a local sweep stopped while this run was set up
            self.pending.append(sweep.signum())
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
        if getattr(prev, "stops_run", False):  # a local sweep's (minrnn.harness.local_sweep)
            prev(signum, None)
            return True
        if callable(prev) and prev is not signal.default_int_handler:
            prev(signum, None)  # submitit: requeue and exit on SIGUSR2; log and carry on for SIGTERM
            return False
        return True


def build_optimizer(model: torch.nn.Module, cfg) -> torch.optim.Optimizer:
    """Weight decay on matrices only (not biases, norms, nor parameters marked ``_no_weight_decay``, as
    mamba-ssm marks A_log and D); Adam or AdamW."""
    exempt = lambda p: p.dim() < 2 or getattr(p, "_no_weight_decay", False)  # noqa: E731
    decay = [p for p in model.parameters() if p.requires_grad and not exempt(p)]
    no_decay = [p for p in model.parameters() if p.requires_grad and exempt(p)]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    if cfg.optimizer not in kinds:
        raise ValueError(f"unknown trainer.optimizer {cfg.optimizer!r}; choose one of {', '.join(kinds)}")
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
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("trainer.device=cuda but no CUDA device is available; use trainer.device=cpu")
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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
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
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise TrainingError(
            f"cannot read checkpoint {path} ({type(e).__name__}: {e}); move it away to start over"
        ) from None
    if ckpt.get("fingerprint") != fingerprint:
        raise TrainingError(
            f"checkpoint {path} was written by a different model or config; "
            "use another run directory or delete it to start over"
        )
    if "data_position" in ckpt and ckpt["data_position"] != ckpt["step"] * grad_accum:
        raise TrainingError(
            f"checkpoint {path} is at micro-batch {ckpt['data_position']}, but step {ckpt['step']} "
            f"with trainer.grad_accum={grad_accum} would be {ckpt['step'] * grad_accum}: "
            "grad_accum changed; use the original value or another run directory"
        )
    try:
        model.load_state_dict(ckpt["model"])
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
    lines, torn = [], 0
    for ln in metrics_path.read_text(errors="replace").splitlines():
        try:
            if json.loads(ln)["step"] <= step:
                lines.append(ln)
        except (ValueError, KeyError, TypeError):
            torn += 1
    if torn:
        print(f"{metrics_path}: dropped {torn} torn line(s) (a write cut short)", flush=True)
    write_text_atomic(metrics_path, "".join(ln + "\n" for ln in lines))


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


def fit(
    model: torch.nn.Module, task, cfg, run_dir: Path, logger, fingerprint: str = "", commit: str | None = None
) -> dict:
    """Train ``model`` on ``task`` with trainer settings ``cfg``; returns the summary metrics. ``commit``
    is recorded in each checkpoint (a resume across a code change says so) with every stretch of training."""
    if cfg.get("keep", "best") not in ("best", "last"):
        raise ValueError(f"trainer.keep must be best or last, got {cfg.keep!r}")
    device = pick_device(cfg.device)
    model.to(device)
    precision = Precision(cfg.get("precision", "auto"), device)
    # trainer.compile: the training forward through torch.compile (the kernels are custom ops, so the
    # graph is whole); evaluation, checkpoints and state dicts use the module itself
    forward = torch.compile(model) if cfg.get("compile", False) else model
    opt = build_optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg))
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path, metrics_path = run_dir / "checkpoint.pt", run_dir / "metrics.jsonl"

    step, best, best_step, bad_evals, history, best_state, saved_step = 0, -math.inf, 0, 0, [], None, None
    stretches = []  # each stretch of training: commit, first and last step, seconds (a resumed run has several)
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, model, opt, sched, fingerprint, cfg.grad_accum, precision, commit)
        step, best, best_step, bad_evals = ckpt["step"], ckpt["best"], ckpt["best_step"], ckpt["bad_evals"]
        history, best_state, saved_step = ckpt["history"], ckpt["best_model"], step
        stretches = ckpt.get("stretches", [])
        print(f"resuming {run_dir} from step {step}", flush=True)
        trim_log(metrics_path, step)

    def save() -> None:
        nonlocal saved_step
        save_checkpoint(
            ckpt_path,
            {
                "fingerprint": fingerprint,
                "step": step,
                "data_position": step * cfg.grad_accum,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "rng": _rng_state(),
                "best": best,
                "best_step": best_step,
                "bad_evals": bad_evals,
                "history": history,
                "best_model": best_state,
                "precision": precision.state_dict(),
                "commit": commit,
                "stretches": [*stretches, this_stretch()],
            },
        )
        saved_step = step

    sign = 1 if getattr(task, "higher_is_better", True) else -1  # `best` holds sign * metric: larger is better
    stop_reason = "max_steps"
    t_start, tokens_seen = time.perf_counter(), 0
    first_step = step

    def this_stretch() -> dict:
        return {"commit": commit, "from_step": first_step, "to_step": step, "seconds": time.perf_counter() - t_start}

    bar = tqdm(
        total=cfg.max_steps,
        initial=step,
        desc=run_dir.name,
        mininterval=2,
        dynamic_ncols=True,
        disable=not cfg.progress,
    )
    every = cfg.checkpoint_every
    # a run that starts without a checkpoint starts a new log: lines left by a run killed before its
    # first checkpoint would otherwise hold those steps twice
    with open(metrics_path, "a" if step else "w") as mlog, StopSignals(cfg.handle_signals) as signals:
        while step < cfg.max_steps:
            loss_sum, tokens = accumulate_gradients(model, forward, task, opt, precision, cfg, step, device)
            tokens_seen += tokens
            if not math.isfinite(loss_sum):
                if cfg.on_nonfinite == "skip":
                    print(f"step {step}: non-finite loss {loss_sum}; batch skipped", flush=True)
                    step += 1
                    sched.step()
                    continue
                last = (
                    f"the last good checkpoint is {ckpt_path} (step {saved_step})"
                    if saved_step
                    else "no checkpoint yet"
                )
                raise TrainingError(
                    f"non-finite loss {loss_sum} at step {step}; {last}. "
                    "Set trainer.on_nonfinite=skip to skip such batches."
                )
            if cfg.grad_clip:
                precision.unscale(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            precision.step(opt)
            sched.step()
            step += 1
            bar.update(1)
            if step % cfg.log_every == 0:
                rate = tokens_seen / (time.perf_counter() - t_start)
                rec = {"step": step, "train_loss": loss_sum, "lr": sched.get_last_lr()[0], "tokens_per_s": rate}
                mlog.write(json.dumps(rec) + "\n")
                mlog.flush()  # so progress is visible (tail -f, schedulers, the fault-injection suite)
                logger.log(rec, step)
                bar.set_postfix(loss=f"{loss_sum:.3f}", tok_s=f"{rate:.0f}")
            if step % cfg.eval_every == 0 or step == cfg.max_steps:
                metrics = evaluate(model, task, task.eval_batches("val"), device, precision)
                rec = {"step": step, **{f"val_{k}": v for k, v in metrics.items()}}
                history.append(rec)
                mlog.write(json.dumps(rec) + "\n")
                mlog.flush()
                logger.log(rec, step)
                score = sign * metrics[task.metric]
                if score > best:
                    best, best_step, bad_evals = score, step, 0
                    best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                else:
                    bad_evals += 1
                bar.write(
                    f"step {step}: val {task.metric} {metrics[task.metric]:.4f} (best {sign * best:.4f} at {best_step})"
                )
                save()
                if cfg.stop_at is not None and best >= sign * cfg.stop_at:
                    stop_reason = f"val {task.metric} reached {cfg.stop_at}"
                    break
                if cfg.patience and bad_evals >= cfg.patience:
                    stop_reason = f"early stopping: no improvement in {cfg.patience} evaluations"
                    break
            elif every and step % every == 0:
                save()
            for signum in signals.take():
                if saved_step != step:
                    save()
                bar.write(f"{signal.Signals(signum).name} at step {step}: checkpoint saved to {ckpt_path}")
                if signals.hand_on(signum):
                    mlog.flush()
                    bar.close()
                    raise Preempted(signum, step, ckpt_path)
        bar.close()
        if best_state is not None and cfg.get("keep", "best") == "best":
            model.load_state_dict(best_state)
        # a signal from here on is noted and dropped: training is over and its last step is saved
        # (the loop ends on an evaluation), so finishing the test evaluation is the quickest way to stop
        test = evaluate(model, task, task.eval_batches("test"), device, precision)
    logger.log({f"test_{k}": v for k, v in test.items()}, step)
    return {
        "steps": step,
        "stop_reason": stop_reason,
        "best_val": sign * best,
        "best_step": best_step,
        **{f"test_{k}": v for k, v in test.items()},
        "precision": precision.name,
        "val_history": history,
        "train_seconds_this_session": time.perf_counter() - t_start,
        "stretches": (all_stretches := [*stretches, this_stretch()]),
        "train_seconds_all_stretches": sum(s["seconds"] for s in all_stretches),
    }
