"""Checks run before the first step: every trainer setting's type and range, and the output folders.

A bad value is one message naming the key and what it may be (minrnn-train exits 2), found before
any time is spent training, never a traceback mid-run or after it.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

POSITIVE, NON_NEGATIVE = (lambda v: v > 0, "> 0"), (lambda v: v >= 0, ">= 0")
# key: (int or float, (test, what the test says))
RANGES = {
    "seed": (int, NON_NEGATIVE),
    "trainer.batch_size": (int, POSITIVE),
    "trainer.grad_accum": (int, POSITIVE),
    "trainer.max_steps": (int, POSITIVE),
    "trainer.eval_every": (int, POSITIVE),
    "trainer.log_every": (int, POSITIVE),
    "trainer.checkpoint_every": (int, NON_NEGATIVE),
    "trainer.warmup_steps": (int, NON_NEGATIVE),
    "trainer.patience": (int, NON_NEGATIVE),
    "trainer.lr": (float, POSITIVE),
    "trainer.weight_decay": (float, NON_NEGATIVE),
    "trainer.grad_clip": (float, NON_NEGATIVE),
    "trainer.min_lr_ratio": (float, (lambda v: 0 <= v <= 1, "in [0, 1]")),
}


def check_settings(config: dict) -> None:
    """Raise ValueError naming the first setting of the wrong type or out of range."""
    for key, (kind, (test, says)) in RANGES.items():
        value = config
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        number = isinstance(value, int if kind is int else (int, float)) and not isinstance(value, bool)
        if not (number and math.isfinite(value) and test(value)):
            raise ValueError(f"{key}={value!r}: must be {'an integer' if kind is int else 'a finite number'} {says}")
    threads = config.get("threads")
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
        raise ValueError(f"threads={threads!r}: must be null (torch's default) or an integer >= 1")
    trainer = config["trainer"]
    if trainer["batch_size"] % trainer["grad_accum"]:
        raise ValueError(
            f"trainer.batch_size={trainer['batch_size']} is not divisible by trainer.grad_accum={trainer['grad_accum']}"
        )


def check_writable(key: str, folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove it writable; else a message naming the setting."""
    path = Path(folder).expanduser()
    blocker = next((p for p in [path, *path.parents] if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ValueError(f"{key}={folder}: is not a folder ({blocker} is a file); choose another folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".minrnn-write-test-"):
            pass
    except OSError as e:
        raise ValueError(f"{key}={folder}: is not writable ({e.strerror}); choose another folder") from None
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
        raise ValueError(
            f"this run needs at least {need / 2**30:.1f} GiB for a training step (micro-batch {micro} x "
            f"length {length:g} x width {width} x {arch.get('depth', 1)} layers), and {available / 2**30:.1f} GiB "
            "is available: lower the sequence length, trainer.batch_size, or raise trainer.grad_accum"
        )
