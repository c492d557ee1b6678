"""One schema for every setting: each key of every config group, its type, choices and range, and the
combinations that cannot run, checked in one place before anything is written.

A plain table, not Hydra structured configs: a structured config would convert values as it merges
them (an int ``0`` becomes ``0.0`` in a float field), which would change the configs, and so the
identity, of every committed run (minrnn.harness.config.identity); here the composed config is only
read. Rules are short strings (``"int >= 1"``, ``"float in [0, 1]"``, ``"adam | adamw"``, ``"bool"``,
``"str"``, ``"text"`` (a string or a number), ``"name"`` (a part of a file name), ``"null | int >= 1"``,
``"list of 2 int >= 1"``, ``"dict"`` for free-form mappings), the same
language a ``$MINRNN_CONFIGS`` model or task YAML uses in its ``schema:`` block (docs/extending.md).

Who calls it: ``minrnn-train`` before Hydra creates the run's folder (OutputFolder.on_run_start), every
job of a sweep before the first starts (SweepCheck), and ``run()`` in-process. A bad setting is one
line naming the key, the value and what is allowed (SettingError); the CLI exits 2. Tests:
tests/test_schema.py (every committed config passes, every key is declared, fuzzing with Hypothesis).
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
import tempfile
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from minrnn.harness.schema_rules import COMMON, LAUNCHER, MODEL, MODELS, NOT_ARGUMENTS, TASK, TASKS


class SettingError(ValueError):
    """One line: the key, its value and what is allowed."""


# ---------------------------------------------------------------------------------------------- rules
class Rule:
    def __init__(self, spec: str):
        self.spec, self.alternatives = spec, [_alternative(a.strip()) for a in spec.split(" | ")]
        self.says = _describe(self.alternatives)

    def ok(self, value) -> bool:
        return any(test(value) for test, _ in self.alternatives)


_NUMBER = re.compile(r"^(int|float)(?:\s*(>=|>|<=|<)\s*(\S+)|\s+in\s+([\[(])(\S+),\s*(\S+)([\])]))?$")
_LIST = re.compile(r"^list of (?:(\d+) )?(.+)$")
_NAME = re.compile(r"[A-Za-z0-9._+=-]*")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _alternative(spec: str):
    """(test, what it says) for one alternative of a rule."""
    if spec == "null":
        return (lambda v: v is None), "null"
    if spec == "any":
        return (lambda v: True), "anything"
    if spec == "dict":
        return (lambda v: isinstance(v, dict)), "a mapping"
    if spec == "bool":
        return (lambda v: isinstance(v, bool)), "true or false"
    if spec == "str":
        return (lambda v: isinstance(v, str)), "a string"
    if spec == "text":  # a name or a path, which the command line may read as a number (tag=2)
        return (lambda v: isinstance(v, str) or _is_number(v)), "a string"
    if spec == "name":  # a part of a file name (tag): it names the run's folder and result file
        return (lambda v: (isinstance(v, str) or _is_number(v)) and _NAME.fullmatch(str(v)) is not None), (
            "letters, digits and . _ + = - only (it is part of the run's folder and file names)"
        )
    if spec == "run name":  # folders of names: task/scale/model-L3-s0-<identity>
        return (lambda v: isinstance(v, str) and all(_NAME.fullmatch(p) and p.strip(".") for p in v.split("/"))), (
            "names of letters, digits and . _ + = - separated by / (no empty, . or .. part)"
        )
    if m := _LIST.match(spec):
        n, item = m.group(1), _alternative(m.group(2))
        size = (lambda v: len(v) == int(n)) if n else (lambda v: True)
        test = lambda v: isinstance(v, list) and size(v) and all(item[0](x) for x in v)  # noqa: E731
        return test, f"a list of {n + ' ' if n else ''}values, each {item[1]}"
    if m := _NUMBER.match(spec):
        kind, op, bound, left, lo, hi, right = m.groups()
        is_kind = _is_int if kind == "int" else _is_number
        noun = "an integer" if kind == "int" else "a finite number"
        if op:
            b = float(bound)
            cmp = {">=": lambda v: v >= b, ">": lambda v: v > b, "<=": lambda v: v <= b, "<": lambda v: v < b}[op]
            return (lambda v: is_kind(v) and cmp(v)), f"{noun} {op} {bound}"
        if lo is not None:
            a, z = float(lo), float(hi)
            test = lambda v: (a <= v if left == "[" else a < v) and (v <= z if right == "]" else v < z)  # noqa: E731
            return (lambda v: is_kind(v) and test(v)), f"{noun} in {left}{lo}, {hi}{right}"
        return is_kind, noun
    if "N" in spec and ":" in spec:  # e.g. cuda:N, a device index
        pattern = re.compile(re.escape(spec).replace("N", r"\d+") + "$")
        return (lambda v: isinstance(v, str) and bool(pattern.match(v))), spec
    return (lambda v: v == spec and isinstance(v, str)), spec


def _describe(alternatives) -> str:
    says = [s for _, s in alternatives]
    words = ("true", "null", "anything", "a ", "an ")
    if len(says) > 1 and not any(s.startswith(words) for s in says):
        return "one of " + ", ".join(says)
    return " or ".join(says)


def rule(spec: str) -> Rule:
    try:
        return Rule(spec)
    except (ValueError, TypeError) as e:
        raise SettingError(f"schema rule {spec!r} cannot be read ({e})") from None


def keys_for(config: dict) -> dict[str, str]:
    """Every key this config may have (dotted, from the top), with its rule: the common keys, the model's
    and the task's (by option), and what a user's model or task YAML declares in its ``schema:`` block."""
    table = dict(COMMON)
    for section, template, options, option in (
        ("task", TASK, TASKS, _get(config, "task._target_")),
        ("model", MODEL, MODELS, _get(config, "model.name")),
    ):
        declared = _get(config, f"{section}.schema")
        known = options.get(option, {}) if isinstance(option, str) else {}  # a non-string name fails its own rule
        own = {**template, **known, **(declared if isinstance(declared, dict) else {})}
        table.update({f"{section}.{k}": v for k, v in own.items()})
    if "BACKENDS" in table.get(SCAN, ""):  # backends registered from outside the package count too
        from minrnn.backends import BACKENDS

        table[SCAN] = table[SCAN].replace("BACKENDS", " | ".join(BACKENDS))
    return table


SCAN = "model.net.block.rnn_kwargs.scan"


# -------------------------------------------------------------------------------------------- checks
def _get(config, key: str, default=None):
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def _walk(node, table: dict, prefix: str = ""):
    """(dotted key, value) of each setting of a nested dict: its leaves, and whole the mappings that the
    table takes as one value (``"dict"``); an empty mapping is a leaf."""
    for k, v in node.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if key in table or not isinstance(v, dict) or not v:
            yield key, v
        else:
            yield from _walk(v, table, key)


def _plain(value):
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, (DictConfig, ListConfig)) else value


def _first_line(e: BaseException) -> str:
    lines = [ln for ln in str(e).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__


def resolved(cfg) -> dict:
    """The config as a plain dict, resolving one key at a time: a key that cannot be resolved (``scale=gpu``
    in a ``${by_scale:...}``, a missing environment variable) is one line naming it, ``scale`` first."""
    if isinstance(cfg, dict):
        return cfg
    check_value("scale", OmegaConf.select(cfg, "scale", default=None))  # every ${by_scale:} depends on it

    def visit(node, prefix):
        for k in node:
            key = f"{prefix}.{k}" if prefix else str(k)
            try:
                value = node[k]
            except Exception as e:  # OmegaConf's and our resolvers' errors, as one line naming the key
                raw = OmegaConf.to_container(node, resolve=False).get(k)
                raise SettingError(f"{key}={raw!r}: cannot be resolved ({_first_line(e)})") from None
            if isinstance(value, DictConfig):
                visit(value, key)

    visit(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]) if "hydra" in cfg else cfg, "")
    return {k: _plain(cfg[k]) for k in cfg if k != "hydra"}  # as OmegaConf.to_container writes it


def _rank(key: str) -> int:
    """Top-level scalars, then trainer, logger, paths, task, model, run_name last (it depends on the rest)."""
    return {"trainer": 1, "logger": 2, "paths": 3, "task": 4, "model": 5, "run_name": 6}.get(key.split(".")[0], 0)


def check_value(key: str, value, spec: str | None = None) -> None:
    """Raise SettingError unless ``value`` is allowed for ``key`` (its rule in COMMON, or ``spec``)."""
    r = rule(spec or COMMON[key])
    if not r.ok(value):
        raise SettingError(f"{key}={value!r}: must be {r.says}")


def check(cfg, *, here: bool = True) -> dict:
    """Check a composed config (a DictConfig, or a resolved plain dict) against the schema; returns the
    resolved dict. ``here``: the run runs on this machine, so the device it names must exist here (a
    Slurm sweep checks on the login node, without its GPUs). Raises SettingError, one line."""
    config = resolved(cfg)
    table = keys_for(config)
    for key, value in sorted(_walk(config, table), key=lambda kv: _rank(kv[0])):
        if key not in table:
            raise SettingError(_unknown(key, value, table))
        check_value(key, value, table[key])
    for combination in COMBINATIONS:
        combination(config)
    if here:
        _device_here(config)
    return config


def check_launcher(launcher) -> None:
    """The Hydra launcher keys we set (configs/hydra/launcher/), when the config has them."""
    for key, spec in LAUNCHER.items():
        if launcher is not None and key in launcher:
            check_value(f"hydra.launcher.{key}", _plain(launcher[key]), spec)


def _unknown(key: str, value, table: dict) -> str:
    """'unknown key a.b.c=v (did you mean ...?); a takes: ...', named from the deepest section of ``key``
    that the table knows (``+trainer.a.b.c=1``: trainer has no a, so trainer's keys are listed)."""
    parts = key.split(".")
    parent = ""
    for i in range(len(parts) - 1, 0, -1):
        if any(k.startswith(".".join(parts[:i]) + ".") for k in table):
            parent = ".".join(parts[:i])
            break
    under = [k[len(parent) + 1 :] if parent else k for k in table if not parent or k.startswith(parent + ".")]
    siblings = sorted({k.split(".")[0] for k in under})
    close = difflib.get_close_matches(key, list(table), n=1) or difflib.get_close_matches(
        key, list(table), n=1, cutoff=0
    )
    hint = f" (did you mean {close[0]}?)" if close else ""
    where = f"{parent} takes" if parent else "the top level takes"
    return f"unknown key {key}={value!r}{hint}; {where}: {', '.join(siblings)}"


# ------------------------------------------------------------------------------- impossible combinations
def _divisible(c: dict) -> None:
    t = c["trainer"]
    if t["batch_size"] % t["grad_accum"]:
        raise SettingError(
            f"trainer.batch_size={t['batch_size']} is not divisible by trainer.grad_accum={t['grad_accum']}"
        )


def _transformer_heads(c: dict) -> None:
    net = c["model"].get("net", {})
    if c["model"].get("name") != "transformer":
        return
    dim, heads, rope = net["dim"], net["heads"], net.get("positions", "rope") == "rope"
    if dim % heads or (rope and (dim // heads) % 2):
        raise SettingError(
            f"model.net.dim={dim} (task.arch.dim): must be divisible by model.net.heads={heads} (task.arch.heads) "
            "into an even head size"
        )
    if net.get("positions") == "learned" and net.get("max_len") is None:
        raise SettingError("model.net.max_len=None: learned positions need an integer >= 1")


def _log_scan(c: dict) -> None:
    kwargs = _get(c, "model.net.block.rnn_kwargs")
    if isinstance(kwargs, dict) and kwargs.get("scan") == "log" and kwargs.get("log_space") is False:
        raise SettingError(
            "model.net.block.rnn_kwargs.scan='log' needs log_space=True "
            "(model.net.block.rnn_kwargs.log_space=False); use scan=auto or log_space=true"
        )


def _task_fits(c: dict) -> None:
    t, target = c["task"], c["task"].get("_target_")
    if target == "minrnn.tasks.selective_copy.SelectiveCopy" and t["num_tokens"] > t["seq_len"]:
        raise SettingError(
            f"task.num_tokens={t['num_tokens']}: must be <= task.seq_len={t['seq_len']} (the tokens to copy)"
        )
    if target == "minrnn.tasks.mqar.MQAR":
        if t["vocab_size"] % 2:
            raise SettingError(f"task.vocab_size={t['vocab_size']}: must be even (keys, values, the empty token)")
        if t["num_kv_pairs"] > t["vocab_size"] // 2 - 1:
            raise SettingError(
                f"task.num_kv_pairs={t['num_kv_pairs']}: must be in 1..{t['vocab_size'] // 2 - 1} (distinct keys)"
            )
        if t["seq_len"] < 4 * t["num_kv_pairs"]:
            raise SettingError(
                f"task.seq_len={t['seq_len']}: must be >= 4 x task.num_kv_pairs = {4 * t['num_kv_pairs']} "
                "(the pairs and one query slot per pair)"
            )
    if target == "minrnn.tasks.chomsky.Chomsky":
        for name in ("train_lengths", "eval_lengths"):
            lo, hi = t[name]
            if lo > hi:
                raise SettingError(f"task.{name}={[lo, hi]}: must be [min, max] with 1 <= min <= max")
    if target == "minrnn.tasks.listops.ListOps" and not t["min_length"] < t["max_length"] - 1:
        raise SettingError(f"task.min_length={t['min_length']}: must be < task.max_length - 1 = {t['max_length'] - 1}")
    if target == "minrnn.tasks.d4rl.D4RL" and t["source"] == "minari" and not t.get("path"):
        raise SettingError("task.path=None: task.source=minari needs the dataset's data/main_data.hdf5")


def _arguments(c: dict) -> None:
    """Keys under a class's node must be arguments of that class (a user's task or model too)."""
    from hydra.utils import get_class

    for key, node, skip, extra in (
        ("task", c.get("task"), NOT_ARGUMENTS, ()),
        ("model.net", _get(c, "model.net"), ("_target_",), ("dim_out", "vocab_size", "dim_in", "device")),
    ):
        if not isinstance(node, dict) or "_target_" not in node:
            continue
        try:
            cls = get_class(node["_target_"])
        except Exception as e:
            raise SettingError(f"{key}._target_={node['_target_']!r}: cannot be imported ({_first_line(e)})") from None
        version = int(getattr(cls, "VERSION", 1))
        if key == "task" and node.get("version", version) != version:  # a label of data this code does not make
            raise SettingError(
                f"task.version={node['version']!r}: {cls.__name__} generates version {version}; "
                "task.version is read from the class (its VERSION), not set"
            )
        params = inspect.signature(cls).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            continue
        for name in node:
            if name not in skip and name not in params:
                valid = ", ".join(sorted(set(params) - set(extra)))
                raise SettingError(f"unknown key {key}.{name}={node[name]!r} for {cls.__name__}; valid keys: {valid}")


def _layer_arguments(c: dict) -> None:
    """A layer named by dotted path (model.net.block.rnn=module.Class) takes the block's rnn_kwargs."""
    from minrnn.blocks import RNNS, rnn_class

    name, kwargs = _get(c, "model.net.block.rnn"), _get(c, "model.net.block.rnn_kwargs") or {}
    if not isinstance(name, str) or name in RNNS or not isinstance(kwargs, dict):
        return
    try:
        cls = rnn_class(name)
    except ValueError:  # the build names it, in one line
        return
    params = inspect.signature(cls).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    for key in kwargs:
        if key not in params:
            raise SettingError(
                f"model.net.block.rnn_kwargs.{key}: {cls.__name__} does not take it (the model's rnn_kwargs are "
                f"for its own layer; drop them with '~model.net.block.rnn_kwargs')"
            )


COMBINATIONS = (_divisible, _task_fits, _transformer_heads, _log_scan, _arguments, _layer_arguments)


def _device_here(c: dict) -> None:
    import torch

    device = c["trainer"]["device"]
    if device.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            raise SettingError(
                f"trainer.device={device!r}: this machine has {count} CUDA device(s); use trainer.device=auto or cpu"
            )
    if device == "mps" and not torch.backends.mps.is_available():
        raise SettingError("trainer.device='mps': MPS is not available here; use trainer.device=auto or cpu")


def precision_fits(setting: str, major: int) -> None:
    """bf16 needs compute capability >= 7 (cuBLAS refuses bf16 matrix products below)."""
    if setting == "bf16" and major < 7:
        raise SettingError(
            f"trainer.precision=bf16: compute capability {major}.x has no bf16 matrix products "
            "(cuBLAS refuses them); use trainer.precision=auto (fp32 here) or fp32"
        )


# --------------------------------------------------------------------------- folders and memory, at run time
def check_writable(key: str, folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove it writable; else a message naming the setting."""
    path = Path(folder).expanduser()
    blocker = next((p for p in [path, *path.parents] if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise SettingError(f"{key}={folder}: is not a folder ({blocker} is a file); choose another folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".minrnn-write-test-"):
            pass
    except OSError as e:
        raise SettingError(f"{key}={folder}: is not writable ({e.strerror}); choose another folder") from None
    return path


def available_memory(device) -> int | None:
    """Bytes the run can use: free GPU memory, or MemAvailable on Linux; None when unknown."""
    import torch

    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_memory(task, model, trainer: dict, arch: dict, device, available: int | None = None) -> None:
    """A lower bound on a training step's memory, before the first step: the parameters with their
    gradients and Adam's moments, and one float32 activation per hidden unit, position and layer of a
    micro-batch. A run that needs more than all the memory there is gets one message naming the
    settings; anything else goes ahead (the bound is far below a real step's, so it refuses only the
    impossible, such as task.seq_len=1e9)."""
    length = getattr(task, "max_len", None)
    if not isinstance(length, (int, float)) or not isinstance(arch, dict):
        return
    available = available_memory(device) if available is None else available
    if not available:
        return
    width = arch.get("dim", 1) * max(arch.get("expansion", 1), 1)
    micro = trainer["batch_size"] // trainer["grad_accum"]
    params = sum(p.numel() for p in model.parameters()) * 4 * 4
    need = params + micro * length * width * arch.get("depth", 1) * 4
    if need > available:
        raise SettingError(
            f"this run needs at least {need / 2**30:.1f} GiB for a training step (micro-batch {micro} x "
            f"length {length:g} x width {width} x {arch.get('depth', 1)} layers), and {available / 2**30:.1f} GiB "
            "is available: lower the sequence length, trainer.batch_size, or raise trainer.grad_accum"
        )
