"""The configs in configs/: where they are, their resolvers, and a run's identity.

``${by_scale:PAPER,CPU}`` picks the value for the top-level ``scale`` (paper: the paper's setting,
for 16 GB GPUs; cpu: small enough for 2 CPU cores). Both values sit side by side in one YAML line,
and a command-line override of the key still wins, since it replaces the interpolation.

``${identity:}`` is a short hash of everything in the resolved config that can change a run's
result. It ends every run name (``mingru-L3-s1-3fa2b1c9``), so a run of another config (a trial
with fewer steps, another learning rate) gets its own run directory and results file and never
resumes from, nor writes over, another's. Left out: the seed (in the name already, so the seeds of
one setting share the hash), where files go, logging, progress, threads, the device, how results
show the model (``model.display``) and code locations (``_target_``).
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib.resources import files
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from minrnn.harness.schema import check_value

CONFIGS = str(files("minrnn.configs"))
SCALES = ("paper", "cpu")
# What cannot change a result, by section ("" = top level).
NOT_RESULT = {
    "": ("seed", "tag", "paths", "logger", "threads", "run_name", "experiment", "hydra"),
    "trainer": ("progress", "handle_signals", "log_every", "checkpoint_every", "device", "compile", "force"),
    "task": ("seed", "path", "cache_dir", "download", "schema"),
    "model": ("display", "schema"),  # how results show the model (minrnn.harness.registry); a user's rules
}


def _by_scale(paper, cpu, *, _root_):
    scale = _root_.get("scale")
    check_value("scale", scale)
    return paper if scale == "paper" else cpu


def _generator_version(*, _parent_) -> int:
    """``task.version``: the ``VERSION`` of the task class (``task._target_``), 1 where it has none. A
    generator whose data for a seed changes bumps its VERSION, so its runs get a new identity."""
    from hydra.utils import get_class

    try:
        return int(getattr(get_class(_parent_.get("_target_")), "VERSION", 1))
    except Exception:  # not importable: minrnn.harness.schema names task._target_
        return 1


def _canonical(node):
    """Code locations are not settings: ``_target_`` is dropped, module paths lose the ``minrnn.`` prefix."""
    if isinstance(node, dict):
        return {k: _canonical(v) for k, v in node.items() if k != "_target_"}
    if isinstance(node, list):
        return [_canonical(v) for v in node]
    return node.removeprefix("minrnn.") if isinstance(node, str) else node


# Settings added after results were committed, with the value that reproduces what those runs did:
# a stored config without one is hashed as if it had it, so its identity is recomputed from it.
ADDED_SETTINGS = {"trainer": {"keep": "best"}}


# Settings added later, with the value that reproduces the committed runs: left out of the hash when
# at that value, so adding one to the configs (for scale=paper's presets, docs/deviations.md) keeps
# every committed run's identity, and a run that sets another value gets a new one.
ABSENT_AT = {
    ("trainer", "decay_rnn"): True,
    ("task", "arch", "init_hidden_state"): False,
    ("model", "net", "block", "rnn_kwargs", "init_hidden_state"): False,
    ("model", "net", "positions"): "rope",
    ("model", "net", "tie_head"): False,
    ("model", "net", "max_len"): None,
    ("task", "version"): 1,  # the task generator's VERSION when the results were committed
}


def _without_defaults(config: dict) -> dict:
    """``config`` with every ABSENT_AT setting that is at its value removed (the caller's dicts unchanged)."""
    for path, value in ABSENT_AT.items():
        node = config
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and path[-1] in node:
            found = node[path[-1]]
            if type(found) is type(value) and found == value:  # 0 is not False, 1 is not True
                config = _copy_path(config, path[:-1])
                target = config
                for key in path[:-1]:
                    target = target[key]
                del target[path[-1]]
    return config


def _copy_path(config: dict, path: tuple) -> dict:
    """A copy of ``config`` whose dicts along ``path`` are copies too (the caller's are not changed)."""
    top = dict(config)
    node = top
    for key in path:
        node[key] = dict(node[key])
        node = node[key]
    return top


def _as_committed(trainer: dict) -> dict:
    """Settings added since results were committed, written as the configs of those results wrote them,
    so a committed run keeps its identity: ``precision: auto`` is the former ``amp: true`` (on CPU both
    train in fp32; on CUDA ``auto`` now also picks fp16 or fp32 by the GPU, recorded in the result)."""
    if "precision" not in trainer:
        return trainer
    trainer = dict(trainer)
    if trainer["precision"] == "auto":
        del trainer["precision"]
        trainer.setdefault("amp", True)
    return trainer


def as_current(config: dict) -> dict:
    """A committed run's stored config as this code takes it: the inverse of ``_as_committed`` (the former
    ``trainer.amp: true`` is ``trainer.precision: auto``), so ``make replay`` reruns runs committed before
    the rename. Its identity is unchanged (identity(as_current(c)) == identity(c), tested on every
    committed summary)."""
    trainer = config.get("trainer")
    if not isinstance(trainer, dict) or trainer.get("amp") is not True or "precision" in trainer:
        return config
    trainer = {k: v for k, v in trainer.items() if k != "amp"}
    return {**config, "trainer": {**trainer, "precision": "auto"}}


def identity(config: dict) -> str:
    """8 hex digits of sha256 over the result-shaping part of a resolved config (a plain dict)."""
    kept = _without_defaults({k: v for k, v in config.items() if k not in NOT_RESULT[""]})
    for section, keys in NOT_RESULT.items():
        if section and isinstance(kept.get(section), dict):
            kept[section] = {k: v for k, v in kept[section].items() if k not in keys}
    for section, added in ADDED_SETTINGS.items():
        if isinstance(kept.get(section), dict):
            kept[section] = {**added, **kept[section]}
    if isinstance(kept.get("trainer"), dict):
        kept["trainer"] = _as_committed(kept["trainer"])
    return hashlib.sha256(json.dumps(_canonical(kept), sort_keys=True).encode()).hexdigest()[:8]


_HASH = re.compile(r"-([0-9a-f]{8})$")


def run_identity(run: dict, path: Path) -> str:
    """The identity a summary was written under: its own field, else its file name's hash, else its config's."""
    found = _HASH.search(Path(path).stem)
    return run.get("identity") or (found.group(1) if found else identity(run["config"]))


def _identity(*, _root_: DictConfig) -> str:
    # each kept node resolved on its own (run_name and hydra.* refer back to this resolver)
    kept = {k: _root_[k] for k in _root_ if k not in NOT_RESULT[""]}
    return identity(
        {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v for k, v in kept.items()}
    )


def register_resolvers() -> None:
    for name, fn in (("by_scale", _by_scale), ("identity", _identity), ("generator_version", _generator_version)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
