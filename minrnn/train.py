"""``minrnn-train``: the Hydra app that composes model x task x trainer x logger and runs one experiment.

    minrnn-train model=mingru task=selective_copy scale=cpu
    minrnn-train experiment=table2/mingru seed=1
    minrnn-train -m experiment=table1/mingru task.arch.depth=1,2,3 seed=0,1,2

The run directory (checkpoint, metrics.jsonl, W&B files) is a function of the config, not the
time, so rerunning a command resumes its run. The summary, with the resolved config and the
provenance, is written atomically to ``results/<task>/<scale>/<run>.json``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import hydra
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from minrnn.config import register_resolvers
from minrnn.records import provenance, write_json_atomic
from minrnn.trainer import Preempted, TrainingError, fit, pick_device
from minrnn.wandb_logger import WandbLogger

register_resolvers()
CONFIGS = str(Path(__file__).resolve().parent.parent / "configs")
# trainer settings a run may be resumed with changed values of (a longer run, another device)
RESUMABLE = ("max_steps", "eval_every", "log_every", "checkpoint_every", "patience", "stop_at", "device",
             "progress", "handle_signals")  # fmt: skip


def build(cfg: DictConfig):
    """The task and the model it needs (vocabulary and output size come from the task; a task with
    ``wrap`` puts its own input/output layers around the model, e.g. the decision model of Table 3)."""
    task = instantiate(cfg.task, _convert_="all")
    io = {"vocab_size": task.vocab_size} if getattr(task, "vocab_size", None) else {"dim_in": task.dim_in}
    model = instantiate(cfg.model.net, dim_out=task.dim_out, **io, _convert_="all")
    return task, (task.wrap(model) if hasattr(task, "wrap") else model)


def run(cfg: DictConfig) -> dict:
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.trainer.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    config = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    run_dir = Path(cfg.paths.runs) / cfg.run_name
    task, model = build(cfg)
    # the checkpoint's fingerprint: everything that shapes the run, except what may change on resume
    fp_cfg = {k: v for k, v in config.items() if k not in ("trainer", "logger", "paths", "experiment", "threads")}
    fp_cfg["trainer"] = {k: v for k, v in config["trainer"].items() if k not in RESUMABLE}
    fingerprint = hashlib.sha256(json.dumps(fp_cfg, sort_keys=True).encode()).hexdigest()[:16]
    logger = WandbLogger(cfg.logger.mode, cfg.logger.project, run_dir, name=cfg.run_name.replace("/", "-"),
                         group=f"{cfg.task.name}-{cfg.model.name}-{cfg.scale}", config=config,
                         tags=[cfg.task.name, cfg.model.name, cfg.scale])  # fmt: skip
    started = time.time()
    try:
        metrics = fit(model, task, cfg.trainer, run_dir, logger, fingerprint)
        device = pick_device(cfg.trainer.device)
        if hasattr(task, "final_evaluation"):  # e.g. Table 3's rollouts in the environment
            metrics["final"] = task.final_evaluation(model, device)
            logger.log({f"final/{k}": v for k, v in metrics["final"].items() if isinstance(v, float)},
                       metrics["steps"])  # fmt: skip
    finally:
        logger.finish()
    summary = {
        "config": config,
        "provenance": provenance(device),
        "seed": cfg.seed,
        "scale": cfg.scale,
        "run_name": cfg.run_name,
        "implementation": getattr(model, "implementation", type(model).__name__),
        "parameters": sum(p.numel() for p in model.parameters()),
        "wall_seconds": time.time() - started,
        "metrics": metrics,
    }
    write_json_atomic(run_dir / "summary.json", summary)
    write_json_atomic(Path(cfg.paths.results) / f"{cfg.run_name}.json", summary)
    final = f", score {metrics['final']['score']:.1f}" if "score" in metrics.get("final", {}) else ""
    print(f"{cfg.run_name}: test {task.metric} {metrics['test_' + task.metric]:.4f}{final} "
          f"({metrics['steps']} steps, {metrics['stop_reason']})", flush=True)  # fmt: skip
    return summary


@hydra.main(config_path=CONFIGS, config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except Preempted as e:
        print(f"minrnn-train: {e}", file=sys.stderr, flush=True)
        sys.exit(128 + e.signum)
    except (ValueError, TrainingError, FileNotFoundError, InstantiationException, OmegaConfBaseException) as e:
        if isinstance(e, InstantiationException) and isinstance(e.__cause__, (ValueError, FileNotFoundError)):
            e = e.__cause__  # our own message, not Hydra's wrapper around it
        print(f"minrnn-train: error: {str(e).strip()}", file=sys.stderr, flush=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
