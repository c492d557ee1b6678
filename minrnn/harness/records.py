"""Provenance for everything saved under results/: every record carries where it came from (git commit,
versions, device, machine, date). Files are written by the one writer, minrnn.files (re-exported here
under the names the harness has used).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import os
import platform
import reprlib
import subprocess
from pathlib import Path

import torch

from minrnn.files import write_json as write_json_atomic  # noqa: F401  (re-exported)
from minrnn.files import write_text as write_text_atomic  # noqa: F401
from minrnn.formats import commit_of, short_commit  # noqa: F401  (re-exported: the reader of git_commit)
from minrnn.reader import UnreadableFile

REPO = Path(__file__).resolve().parents[2]
# What every run summary under results/ carries (written by minrnn-train, required by the table scripts).
RESULT_KEYS = ("config", "provenance", "seed", "scale", "metrics")


def git_commit() -> str:
    """The commit of minrnn's own checkout, with ``-dirty`` if tracked files outside results/ differ from it
    (outputs written by earlier scripts are not code); 'unknown' for an installed copy, even one inside
    another git repository."""
    try:
        # the checkout must be minrnn's own: a non-editable install inside another repository is not
        tracked = ["git", "ls-files", "--error-unmatch", "minrnn/layers.py"]
        subprocess.run(tracked, cwd=REPO, capture_output=True, text=True, errors="replace", check=True)
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, errors="replace", check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!results"],
            cwd=REPO,
            capture_output=True,
            text=True,
            errors="replace",
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def cuda_details(device: torch.device) -> dict:
    """What a GPU result most needs: the GPU, compute capability, memory, CUDA, driver, cuDNN, Triton."""
    props = torch.cuda.get_device_properties(device)
    try:
        smi = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader", f"--id={props.pci_bus_id}"]
        driver = (
            subprocess.run(smi, capture_output=True, text=True, errors="replace", timeout=20).stdout.strip() or None
        )
    except (OSError, AttributeError, subprocess.SubprocessError):
        driver = None
    return {
        "compute_capability": f"{props.major}.{props.minor}",
        "gpu_memory_gib": round(props.total_memory / 2**30, 1),
        "cuda": torch.version.cuda,
        "driver": driver,
        "cudnn": torch.backends.cudnn.version(),
        "triton": package_version("triton"),
    }


def provenance(device: str | torch.device = "cpu") -> dict:
    """Where a result came from: commit, library versions, device, machine, threads, UTC date; on a
    GPU also its compute capability, memory, CUDA, driver, cuDNN and Triton versions."""
    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    extra = cuda_details(device) if device.type == "cuda" else {}
    return extra | {
        "git_commit": git_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": device.type,
        "device_name": name,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


UNRECORDED = "unrecorded"  # a config key that one side lacks


class OtherConfig(ValueError):
    """A result on disk came from a run with another config: no run writes over it unless asked to."""


def same_value(a, b) -> bool:
    """Two config values as JSON holds them: NaN is NaN (a rerun of a NaN setting is the same config),
    true is not 1, a list is its tuple, a dict compares key by key; else ``==`` (1 is 1.0)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(map(same_value, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return a == b


def same_config(
    path: str | Path,
    config: dict,
    config_of,
    replace: bool = False,
    what: str = "a result of another config",
    flag: str = "--replace",
    companions: tuple[str | Path, ...] = (),
) -> str:
    """Check before a run that writes ``path`` (and its ``companions``, the files written beside it): 'new'
    (none there), 'same' (a result of this ``config``, which the run replaces) or 'replaced' (another
    config's, and ``replace`` was given); otherwise raise OtherConfig naming what differs. ``config_of(path)``
    reads the config of the result there; a key it lacks (a result saved before the key was recorded) is an
    unknown value: another config; so is a record that cannot be read, and a companion without its record."""
    path = Path(path)
    if path.is_dir():
        raise OtherConfig(f"{path} is a folder, where this run writes a file; choose another name or --out")
    again = f"rerun with {flag} to replace it, or choose another name or --out"
    if not os.path.lexists(path):
        there = [c for c in map(Path, companions) if os.path.lexists(c)]
        if not there or replace:
            return "replaced" if there else "new"
        raise OtherConfig(f"{there[0]} is there without its record {path.name}: {what} (unknown); {again}")
    try:
        theirs = config_of(path)
    except UnreadableFile as e:
        if replace:
            return "replaced"
        raise OtherConfig(f"{path} holds {what} (unknown: {e.reason}); {again}") from None
    differs = (
        [
            k
            for k in sorted(set(theirs) | set(config))
            if not same_value(theirs.get(k, UNRECORDED), config.get(k, UNRECORDED))
        ]
        if isinstance(theirs, dict)
        else None
    )
    if not differs and differs is not None:
        return "same"
    if replace:
        return "replaced"

    def shown(c: dict, k: str) -> str:
        return reprlib.repr(c[k]) if k in c else UNRECORDED

    diff = "; ".join(f"{k}: {shown(theirs, k)} there, {shown(config, k)} now" for k in differs or [])
    raise OtherConfig(f"{path} holds {what} ({diff or 'a record with no config: ' + reprlib.repr(theirs)}); {again}")


def add_replace_argument(ap) -> None:
    ap.add_argument("--replace", action="store_true", help="write over a result of another config (check_replace)")


def args_config(args, **fixed) -> dict:
    """A run's arguments as its record's config: ``--replace`` (how it writes, not what it measures) left
    out, paths as text, and ``fixed`` (settings of the code that the run depends on) added."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "replace"} | fixed


def check_replace(
    path: str | Path,
    config: dict,
    replace: bool,
    ignore: tuple[str, ...] = ("out",),
    say=print,
    companions: tuple[str, ...] = (".md",),
) -> str:
    """Every writer of a result under results/ calls this before its work starts (no run writes over
    the result of a run with another config): ``config``, what the run will record as its "config", is
    compared with the "config" of the JSON record at ``path`` (same_config), leaving out the keys in
    ``ignore``: where it writes (``out``) and what the machine chose rather than the command (the speed
    card's thread count). A record saved before a key was recorded lacks it, an unknown value: refused
    unless ``replace``; so is a record that cannot be read, and a file the run also writes beside it
    (``companions``: the same name with these suffixes, its table) that is there without the record.
    Raises OtherConfig naming the file and the keys that differ (one line and exit 2 through
    minrnn.cli.run); says so when the run will replace what is there."""
    from minrnn.reader import parse_json, read_json

    def comparable(c):  # a record's "config" that is not a dict is another config, shown as it is
        return {k: v for k, v in c.items() if k not in ignore} if isinstance(c, dict) else c

    def config_of(p: Path) -> dict:
        record = read_json(p)
        return comparable((record.get("config") if isinstance(record, dict) else None) or {})

    mine = comparable(parse_json(path, json.dumps(config, default=str)))  # as the JSON will hold it: lists, text
    beside = tuple(Path(path).with_suffix(suffix) for suffix in companions)
    status = same_config(path, mine, config_of, replace, companions=beside)
    if status != "new":
        why = "a result of the same config" if status == "same" else "a result of another config (--replace)"
        say(f"{path} holds {why}: this run replaces it")
    return status
