"""``minrnn-train``: the Hydra app that composes model x task x trainer x logger and runs one experiment.

    minrnn-train model=mingru task=selective_copy scale=cpu
    minrnn-train experiment=table2/mingru seed=1
    minrnn-train -m experiment=table1/mingru task.arch.depth=1,2,3 seed=0,1,2

A run's name ends in the hash of its config (``selective_copy/cpu/mingru-L3-s1-3fa2b1c9``,
minrnn.harness.config), and its directory (checkpoint, metrics.jsonl, W&B files) is Hydra's output
directory, ``paths.runs/<run name>`` unless ``hydra.run.dir`` moves it: rerunning a command resumes
its run, and a run of another config starts its own. The summary, with the resolved config and the
provenance, is written atomically to ``results/<task>/<scale>/<run>.json``; a results file of
another config is never overwritten.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import sys
import time
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.experimental.callback import Callback
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from minrnn.files import inside, write_text
from minrnn.formats import RESULT
from minrnn.harness.config import CONFIGS, identity, register_resolvers, run_identity
from minrnn.harness.local_sweep import SweepStop
from minrnn.harness.records import provenance, write_json_atomic
from minrnn.harness.registry import config_folders
from minrnn.harness.run_lock import RunInUse, RunLock
from minrnn.harness.schema import check, check_launcher, check_memory, check_writable
from minrnn.harness.schema_rules import NOT_ARGUMENTS
from minrnn.harness.trainer import Preempted, TrainingError, fit, pick_device
from minrnn.harness.wandb_logger import WandbLogger
from minrnn.reader import UnreadableFile, read_json
from minrnn.tasks import Task

register_resolvers()


def instantiate(node: DictConfig, skip=(), **extra):
    """``node._target_(**node, **extra)`` (its keys checked by minrnn.harness.schema before)."""
    kwargs = {k: v for k, v in OmegaConf.to_container(node, resolve=True).items() if k not in skip}
    return get_class(node._target_)(**kwargs, **extra)


def check_own_classes(config: dict) -> None:
    """For configs read from files (a run's summary.json: data from anyone who can write there): every
    class a config names (``_target_``, a block's dotted ``rnn``) must be one of minrnn's own, so a
    planted file cannot make us build, say, subprocess.Popen. Raises ValueError naming the first other."""
    import torch

    def named(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("_target_", "rnn") and isinstance(v, str) and (k == "_target_" or "." in v):
                    yield v
                yield from named(v)
        elif isinstance(node, list):
            for v in node:
                yield from named(v)

    for target in named(config):
        path = target if target.startswith("minrnn.") else f"minrnn.{target}"  # older summaries: no prefix
        ok = path.startswith(("minrnn.tasks.", "minrnn.baselines.", "minrnn.model.", "minrnn.layers."))
        try:
            cls = get_class(path) if ok else None
        except Exception:
            cls = None
        if cls is None or not (issubclass(cls, torch.nn.Module) or path.startswith("minrnn.tasks.")):
            raise ValueError(f"the config names {target!r}, which is not one of minrnn's own classes; not built")


def build(cfg: DictConfig):
    """The task and the model it needs (vocabulary and output size come from the task; a task with
    ``wrap`` puts its own input/output layers around the model, e.g. the decision model of Table 3)."""
    task = instantiate(cfg.task, skip=NOT_ARGUMENTS)
    if not isinstance(task, Task):
        raise ValueError(
            f"{type(task).__name__} does not implement the Task protocol (tasks/__init__.py, minrnn.tasks.Task)"
        )
    io = {"vocab_size": task.vocab_size} if getattr(task, "vocab_size", None) else {"dim_in": task.dim_in}
    if "device" in inspect.signature(get_class(cfg.model.net._target_)).parameters:  # e.g. Mamba picks by it
        io["device"] = str(pick_device(cfg.trainer.device))
    model = instantiate(cfg.model.net, skip=("_target_",), dim_out=task.dim_out, **io)
    return task, (task.wrap(model) if hasattr(task, "wrap") else model)


def contained(cfg: DictConfig) -> None:
    """run_name (with its tag) names files under paths.results and paths.runs: never outside them."""
    inside(cfg.paths.results, f"{cfg.run_name}.json", "run_name (task, model, tag=)")
    inside(cfg.paths.runs, cfg.run_name, "run_name (task, model, tag=)")


def run_directory(cfg: DictConfig) -> Path:
    """Hydra's output directory when launched by Hydra (``hydra.run.dir`` moves it), else paths.runs/run_name."""
    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return Path(cfg.paths.runs) / cfg.run_name


def write_result(path: Path, summary: dict) -> None:
    """Write the summary, unless ``path`` holds the result of another config or seed, or a file that is
    not a readable summary (then refuse, naming why)."""
    if path.exists() or path.is_symlink():
        try:
            old = read_json(path, RESULT)
            same = run_identity(old, path) == summary["identity"] and old["seed"] == summary["seed"]
            why = "the result of another config"
        except UnreadableFile as e:
            same, why = False, f"a file that is not a readable run summary ({e.reason})"
        except (ValueError, TypeError, AttributeError):  # a config that cannot be hashed
            same, why = False, "the result of another config"
        if not same:
            raise ValueError(
                f"{path} holds {why}; not overwritten. This run's summary "
                f"is in {summary['run_dir']}/summary.json; choose another run_name or paths.results"
            )
    write_json_atomic(path.name, summary, root=path.parent)  # a relative path.parent: not twice


def finished(path: Path, ident: str, seed: int) -> dict | None:
    """The summary at ``path`` when it is this config's and seed's (a sweep's rerun skips the run)."""
    try:
        old = read_json(path, RESULT)
        return old if run_identity(old, path) == ident and old["seed"] == seed else None
    except (ValueError, TypeError, AttributeError):  # UnreadableFile (a ValueError), or a config not hashable
        return None


def run(cfg: DictConfig, sweep=None) -> dict:
    """Check every setting and output folder, lock the run directory, then train and record the run.
    A run whose result is already written (same identity and seed) is skipped, alone or in a sweep (-m:
    a rerun retries only the rest), unless trainer.force is set."""
    config = check(cfg)  # every setting, before anything is written (minrnn.harness.schema)
    contained(cfg)
    results = check_writable("paths.results", cfg.paths.results)
    check_writable("paths.results", results / Path(cfg.run_name).parent)  # the run's own folder, before training
    force = cfg.trainer.get("force", False)  # a bool: minrnn.harness.schema
    done = None if force else finished(results / f"{cfg.run_name}.json", identity(config), cfg.seed)
    if done is not None:  # a single run as a sweep's: a finished run is not retrained by accident
        print(
            f"{cfg.run_name}: finished already ({results / cfg.run_name}.json); not retrained "
            "(trainer.force=true trains it again, resuming its checkpoint where there is one)",
            flush=True,
        )
        return done
    run_dir = run_directory(cfg)
    check_writable("hydra.run.dir" if HydraConfig.initialized() else "paths.runs", run_dir)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.trainer.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    with RunLock(run_dir), console_to_log():
        return train_and_record(cfg, config, run_dir, results, sweep)


class _Tee:
    """A stream that also hands each finished line to ``handlers`` (a progress bar's ``\\r`` redraws: its last)."""

    def __init__(self, stream, handlers, level: int):
        self.stream, self.handlers, self.level, self.pending = stream, handlers, level, ""

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            line = line.rsplit("\r", 1)[-1].rstrip()
            if line:
                record = logging.LogRecord("minrnn-train", self.level, __file__, 0, line, None, None)
                for h in self.handlers:
                    h.handle(record)
        return self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)


@contextlib.contextmanager
def console_to_log():
    """What the run prints also goes to the log files Hydra opened (``<run dir>/train.log``): minrnn
    prints rather than logs, so Hydra's job log stayed empty. Outside Hydra there are none: a no-op."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    if not handlers:
        yield
        return
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(out, handlers, logging.INFO), _Tee(err, handlers, logging.WARNING)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
        for h in handlers:
            h.flush()


def report_where(cfg: DictConfig, run_dir: Path, results: Path, logger: WandbLogger) -> None:
    """The end of a run: where its result, checkpoint and logs are (and W&B's offline folder, with the
    command that uploads it)."""
    log_files = [run_dir / "metrics.jsonl"]
    log_files += [Path(h.baseFilename) for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    lines = [
        ("result", results / f"{cfg.run_name}.json"),
        ("checkpoint", run_dir / "checkpoint.pt"),
        ("logs", ", ".join(str(p) for p in log_files)),
        ("W&B", logger.where() or "off (logger.mode=disabled, or W&B failed: see above)"),
    ]
    print("\n".join(f"  {what:<11}{where}" for what, where in lines), flush=True)


def train_and_record(cfg: DictConfig, config: dict, run_dir: Path, results: Path, sweep=None) -> dict:
    """Build, train, evaluate and write the summary of one run (its directory locked by the caller)."""
    task, model = build(cfg)
    ident = identity(config)
    logger = WandbLogger(
        cfg.logger.mode,
        cfg.logger.project,
        run_dir,
        name=cfg.run_name.replace("/", "-"),
        group=f"{cfg.task.name}-{cfg.model.name}-{cfg.scale}",
        config=config,
        tags=[cfg.task.name, cfg.model.name, cfg.scale],
    )
    device = pick_device(cfg.trainer.device)
    check_memory(task, model, config["trainer"], config["task"].get("arch"), device)  # the impossible, before step 1
    origin = provenance(device)  # taken now: the checkout may change while the run trains
    started = time.time()
    try:
        metrics = fit(
            model,
            task,
            cfg.trainer,
            run_dir,
            logger,
            fingerprint=f"{ident}-s{cfg.seed}",
            commit=origin["git_commit"],
            sweep=sweep,  # a local sweep's stop, which the run's signals go to
        )
        if hasattr(task, "final_evaluation"):  # e.g. Table 3's rollouts in the environment
            metrics["final"] = task.final_evaluation(model, device)
            logger.log({f"final/{k}": v for k, v in metrics["final"].items() if isinstance(v, float)}, metrics["steps"])
    finally:
        logger.finish()
    summary = {
        "format": RESULT.tag,  # not part of the identity (a hash of config): committed runs keep theirs
        "config": config,
        "identity": ident,
        "provenance": origin,
        "seed": cfg.seed,
        "scale": cfg.scale,
        "run_name": cfg.run_name,
        "run_dir": str(run_dir),
        "implementation": getattr(model, "implementation", type(model).__name__),
        "parameters": sum(p.numel() for p in model.parameters()),
        "wall_seconds": time.time() - started,
        "metrics": metrics,
    }
    write_json_atomic(run_dir / "summary.json", summary)
    write_result(results / f"{cfg.run_name}.json", summary)
    final = f", score {metrics['final']['score']:.1f}" if "score" in metrics.get("final", {}) else ""
    print(
        f"{cfg.run_name}: test {task.metric} {metrics['test_' + task.metric]:.4f}{final} "
        f"({metrics['steps']} steps, {metrics['stop_reason']})",
        flush=True,
    )
    report_where(cfg, run_dir, results, logger)
    return summary


class OutputFolder(Callback):
    """Checks every setting (minrnn.harness.schema) and Hydra's output folder before Hydra creates it
    (configs/train.yaml, hydra.callbacks): a bad value or a path through a file is one message and
    exit 2, not Hydra's traceback, and nothing is written."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        try:
            check(config)
            check_launcher(OmegaConf.select(config, "hydra.launcher"))
            contained(config)
            config_folders()  # $MINRNN_CONFIGS: a folder of regular YAML files, no link out (minrnn.reader)
        except ValueError as e:
            print(f"minrnn-train: error: {e}", file=sys.stderr, flush=True)
            sys.exit(2)
        self._check("hydra.run.dir", config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        try:
            config_folders()
        except ValueError as e:
            print(f"minrnn-train: error: {e}", file=sys.stderr, flush=True)
            sys.exit(2)
        self._check("hydra.sweep.dir", config.hydra.sweep.dir)

    @staticmethod
    def _check(key: str, folder: str) -> None:
        try:
            check_writable(key, folder)
        except ValueError as e:
            print(f"minrnn-train: error: {e}", file=sys.stderr, flush=True)
            sys.exit(2)


def not_started(cfg: DictConfig) -> str:
    """Where a run a stopped sweep did not start stands on disk: finished by an earlier invocation (its
    result is written), stopped by one (its checkpoint is kept), or never started."""
    try:
        path = Path(cfg.paths.results) / f"{cfg.run_name}.json"
        if finished(path, identity(check(cfg)), cfg.seed) is not None:
            return "finished, result saved"
    except ValueError:  # a bad value fails the run when it starts; here, it only did not start
        pass
    if (run_directory(cfg) / "checkpoint.pt").exists():
        return "not started; its checkpoint is kept and a rerun resumes it"
    return "not started"


@hydra.main(config_path=CONFIGS, config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    sweep = SweepStop.join()
    if sweep and sweep.signum():
        sweep.report(f"{cfg.run_name}: {not_started(cfg)}")
        return
    try:
        run(cfg, sweep)
        if sweep:  # listed if a signal stops the sweep: a run that finished before it is not lost
            sweep.report(f"{cfg.run_name}: finished, result saved")
    except Preempted as e:
        if sweep:  # the parent reports it and exits once every run has stopped
            sweep.report(f"{cfg.run_name}: stopped at step {e.step}, checkpoint saved")
            return
        print(f"minrnn-train: {e}", file=sys.stderr, flush=True)
        sys.exit(128 + e.signum)
    except (
        ValueError,
        TrainingError,
        RunInUse,
        OSError,  # an unreadable data folder, a full disk, a permission: one line, not a traceback
        InstantiationException,
        OmegaConfBaseException,
    ) as e:
        if isinstance(e, InstantiationException) and isinstance(e.__cause__, (ValueError, FileNotFoundError)):
            e = e.__cause__  # our own message, not Hydra's wrapper around it
        message = (str(e).strip().splitlines() or [type(e).__name__])[0]  # one line (OmegaConf's run to three)
        print(f"minrnn-train: error: {message}", file=sys.stderr, flush=True)
        if sweep:  # a failing run fails alone: the sweep goes on and names it at the end
            sweep.fail(f"{cfg.run_name}: {message}")
            return
        sys.exit(2)
    except Exception as e:  # not a bad input: a defect, or torch's own error (out of memory). One line and
        # its traceback kept in the run's folder; in a sweep the other runs go on and the sweep names it at the end
        where = keep_traceback(cfg)
        message = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]} (traceback: {where})"
        print(f"minrnn-train: error: {cfg.run_name}: {message}", file=sys.stderr, flush=True)
        if sweep:
            sweep.fail(f"{cfg.run_name}: {message}")
            return
        sys.exit(1)


def keep_traceback(cfg: DictConfig) -> str:
    """The traceback of the exception being handled, written to the run's folder (error.txt); where it is."""
    import traceback

    text = traceback.format_exc()
    try:
        path = run_directory(cfg) / "error.txt"
        write_text(path, text)
        return str(path)
    except (OSError, ValueError):  # no run folder to write to: the traceback goes to stderr instead
        print(text, file=sys.stderr, flush=True)
        return "printed above"


if __name__ == "__main__":
    from minrnn import cli

    cli.overrides(sys.argv[1:])  # as minrnn-train: a bad override or config option is one line, exit 2
    cli.hydra_run(main)
