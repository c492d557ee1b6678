"""``trainer.precision``: the arithmetic a run trains in, chosen by the device (``auto``) or named.

``auto`` picks, per CUDA compute capability:
- >= 8.0 (A100, H100, RTX 30xx and later): bf16 autocast, the paper-era default (bf16 tensor cores).
- 7.x (V100, T4): fp16 autocast with a GradScaler: their tensor cores have no bf16, and bf16 runs
  emulated, slower than fp16.
- below 7.0 (P100) and on CPU: fp32. A P100's cuBLAS has no bf16 GEMMs (CUBLAS_STATUS_NOT_SUPPORTED)
  although ``torch.cuda.is_bf16_supported()`` says True.
Named values are taken as given, except bf16 below 7.0, which cannot run. The choice is recorded in
every result (``metrics.precision``).
"""

from __future__ import annotations

import contextlib

import torch

from minrnn.harness.schema import check_value, precision_fits

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def choose(setting: str, device: torch.device, capability: tuple[int, int] | None = None) -> str:
    """The precision ``setting`` means on ``device``; ``capability`` defaults to the device's own."""
    check_value("trainer.precision", setting)
    if device.type != "cuda":
        return "fp32" if setting == "auto" else setting
    major, _ = capability if capability is not None else torch.cuda.get_device_capability(device)
    if setting == "auto":
        return "bf16" if major >= 8 else "fp16" if major == 7 else "fp32"
    precision_fits(setting, major)
    return setting


class Precision:
    """Autocast and, for fp16, a GradScaler; the training loop calls ``backward`` and ``step``."""

    def __init__(self, setting: str, device: torch.device, capability: tuple[int, int] | None = None):
        self.name = choose(setting, device, capability)
        self.device = device
        self.dtype = DTYPES.get(self.name)
        self.scaler = torch.amp.GradScaler(device.type) if self.name == "fp16" else None

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler else loss).backward()

    def unscale(self, opt: torch.optim.Optimizer) -> None:
        """Bring the gradients to their true scale (before clipping them)."""
        if self.scaler:
            self.scaler.unscale_(opt)

    def step(self, opt: torch.optim.Optimizer) -> bool:
        """The optimiser step; with a GradScaler skipped when a gradient is inf/NaN, and the scale updated.
        Whether the optimiser stepped: the scaler lowers its scale exactly when it skipped the step."""
        if self.scaler:
            before = self.scaler.get_scale()
            self.scaler.step(opt)
            self.scaler.update()
            return self.scaler.get_scale() >= before
        opt.step()
        return True

    def state_dict(self) -> dict:
        return {"name": self.name, "scaler": self.scaler.state_dict() if self.scaler else None}

    def load_state_dict(self, state: dict | None) -> None:
        if state and self.scaler and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
