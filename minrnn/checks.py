"""The library's one argument check: what every entry point (MinGRU/MinLSTM forward and step, scan,
resets, Block, SequenceModel) runs on its arguments before any kernel sees them.

Each check refuses, with one ``ArgumentError`` (a ValueError) naming the argument, what was expected
and what was given: a non-tensor, a wrong dtype kind (floating point, integer ids, bool masks), a
tensor on another device than the others or than the module's parameters, a wrong shape (named:
"(B, T, dim_in)"), and a module whose options no longer fit (a log-space backend on a vanilla layer).
Layouts are not refused: non-contiguous and expanded (stride 0) tensors are accepted, and every kernel
makes its inputs contiguous before it reads them. NaN is a value, not an argument error: it propagates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


class ArgumentError(ValueError):
    """A bad argument to a library entry point; the message names it, what was expected and what was given."""


def tensor(
    who: str,
    name: str,
    x,
    dims: Sequence[tuple[str, int | None]],
    kind: str = "float",
    device: torch.device | None = None,
    on: str = "",
    nonempty: Sequence[str] = (),
) -> torch.Tensor:
    """Refuse ``x`` unless it is a tensor of ``kind`` ("float", "int": integer ids, "bool") with the named
    ``dims`` [(name, size or None for any)], each dim in ``nonempty`` >= 1, on ``device`` (that of ``on``)."""
    kinds = {"float": "floating-point", "int": "integer", "bool": "bool"}
    shape = f"({', '.join(n for n, _ in dims)}{',' if len(dims) == 1 else ''})"
    if not isinstance(x, torch.Tensor):
        raise ArgumentError(f"{who}: {name} must be a {kinds[kind]} tensor {shape}, got {type(x).__name__}")
    ok = {
        "float": x.is_floating_point(),
        "int": not (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool),
        "bool": x.dtype == torch.bool,
    }[kind]
    if not ok:
        raise ArgumentError(f"{who}: {name} must be a {kinds[kind]} tensor {shape}, got {x.dtype}")
    fixed = [(n, s) for n, s in dims if s is not None]
    bad = x.dim() != len(dims) or any(x.shape[i] != s for i, (_, s) in enumerate(dims) if s is not None)
    bad = bad or any(x.shape[i] < 1 for i, (n, _) in enumerate(dims) if n in nonempty)
    if bad:
        if len(fixed) == len(dims) and not nonempty:
            want = f" = {tuple(s for _, s in dims)}"
        else:
            want = ", ".join([f"{n} = {s}" for n, s in fixed] + [f"{n} >= 1" for n in nonempty])
            want = f" with {want}" if want else ""
        raise ArgumentError(f"{who}: {name} must have shape {shape}{want}, got {tuple(x.shape)}")
    if device is not None and x.device != device:
        raise ArgumentError(f"{who}: {name} is on {x.device} but {on} is on {device}")
    return x


def against_parameters(who: str, name: str, x: torch.Tensor, module: torch.nn.Module, dtype: bool = True) -> None:
    """Refuse ``x`` on another device than ``module``'s parameters, or (``dtype``, outside autocast) of another
    floating dtype: a float64 input to a float32 layer would be computed in neither."""
    weights = [p for p in module.parameters() if p.is_floating_point()]
    for weight in weights:  # the device first: autocast has no notion of some devices (meta)
        if x.device != weight.device:
            raise ArgumentError(f"{who}: {name} is on {x.device} but the layer's weights are on {weight.device}")
    for weight in weights:
        if dtype and x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
            raise ArgumentError(f"{who}: {name} has dtype {x.dtype} but the layer's weights are {weight.dtype}")


def resets(who: str, r, batch: int, length: int | None, device: torch.device) -> torch.Tensor:
    """``resets`` (B, T) or, for a step (``length`` None), ``reset`` (B,): bool, on the input's device."""
    if length is None:
        return tensor(who, "reset", r, [("B", batch)], "bool", device, "the input")
    return tensor(who, "resets", r, [("B", batch), ("T", length)], "bool", device, "the input")


def kernel_resets(who: str, r, batch: int, length: int, device: torch.device) -> torch.Tensor | None:
    """``resets`` for a kernel: None, or (B, T) bool or uint8 (nonzero = reset) on the input's device,
    returned as contiguous uint8 (0 or 1) that the kernel reads one byte per step."""
    if r is None:
        return None
    if isinstance(r, torch.Tensor) and r.dtype == torch.uint8:
        r = r != 0
    return resets(who, r, batch, length, device).contiguous().view(torch.uint8)


def layer_call(layer, x, h, step: bool) -> None:
    """A MinGRU/MinLSTM's forward (x (B, T, dim_in)) or step (x_t (B, dim_in)) and its state (B, dim_hidden)."""
    from minrnn import backends

    who = type(layer).__name__ + (".step" if step else "")
    name = "x_t" if step else "x"
    dims = [("B", None)] + ([] if step else [("T", None)]) + [("dim_in", layer.dim_in)]
    tensor(who, name, x, dims, nonempty=() if step else ("T",))
    against_parameters(who, name, x, layer)
    if h is not None:
        tensor(who, "the state", h, [("B", x.shape[0]), ("dim_hidden", layer.dim_hidden)], device=x.device, on=name)
    backends.check_name(layer.scan)
    if layer.scan != "auto" and backends.BACKENDS[layer.scan].log_space and not layer.log_space:
        raise ArgumentError(
            f"{who}: scan={layer.scan!r} needs log_space=True: the vanilla h~ = Linear(x) can be negative"
        )


def scan_call(a, b, h0) -> None:
    """minrnn.scan.scan's a, b (B, T, C) and h0 (B, C), all floating point on a's device."""
    tensor("scan", "a", a, [("B", None), ("T", None), ("C", None)], nonempty=("T",))
    tensor("scan", "b", b, [(n, s) for n, s in zip("BTC", a.shape, strict=True)], device=a.device, on="a")
    if h0 is not None:
        tensor("scan", "h0", h0, [("B", a.shape[0]), ("C", a.shape[2])], device=a.device, on="a")


def block_call(block, x, step: bool) -> None:
    """A Block's x (B, T, dim) or x_t (B, dim), on its parameters' device."""
    who = "Block" + (".step" if step else "")
    name = "x_t" if step else "x"
    dims = [("B", None)] + ([] if step else [("T", None)]) + [("dim", block.config["dim"])]
    tensor(who, name, x, dims, nonempty=() if step else ("T",))
    against_parameters(who, name, x, block, dtype=False)


def model_input(model, x, step: bool) -> None:
    """A SequenceModel's token ids (B, T) / (B,) in [0, vocab_size), or vectors (B, T, dim_in) / (B, dim_in)."""
    tokens = model.vocab_size is not None
    who = "SequenceModel" + (".step" if step else "")
    want = ("(B,)" if step else "(B, T)") if tokens else ("(B, dim_in)" if step else "(B, T, dim_in)")
    kind = "integer token ids" if tokens else "floating-point vectors"
    if not isinstance(x, torch.Tensor):
        raise ArgumentError(f"{who} expects {kind} of shape {want}, got {type(x).__name__}")
    ok_dtype = (
        not (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool) if tokens else x.is_floating_point()
    )
    ndim = (1 if step else 2) + (0 if tokens else 1)
    dim_in = model.config.get("dim_in")
    if not ok_dtype or x.dim() != ndim or (not step and x.shape[1] == 0) or (not tokens and x.shape[-1] != dim_in):
        raise ArgumentError(
            f"{who} expects {kind} of shape {want}{'' if step else ' with T >= 1'}"
            f"{'' if tokens else f', dim_in = {dim_in}'}, got {x.dtype} {tuple(x.shape)}"
        )
    against_parameters(who, "the input", x, model, dtype=False)
    if tokens and x.numel() and not torch.compiler.is_compiling():
        low, high = int(x.min()), int(x.max())
        if low < 0 or high >= model.vocab_size:
            raise ArgumentError(f"token ids must lie in [0, {model.vocab_size}), got [{low}, {high}]")


def generation(model, prompt, max_new_tokens, temperature, top_k, top_p) -> None:
    """SequenceModel.generate's prompt (B, T0 >= 1) token ids and its sampling settings."""
    if model.vocab_size is None:
        raise ArgumentError("generate needs a token model (vocab_size)")
    if model.config["dim_out"] > model.vocab_size:  # a sampled id past the vocabulary: no embedding row to read
        raise ArgumentError(
            f"generate samples token ids from the model's {model.config['dim_out']} outputs, more than its "
            f"vocabulary of {model.vocab_size}: dim_out must be at most vocab_size"
        )
    if not isinstance(prompt, torch.Tensor) or prompt.dim() != 2 or prompt.shape[1] == 0:
        got = tuple(prompt.shape) if isinstance(prompt, torch.Tensor) else type(prompt).__name__
        raise ArgumentError(f"generate needs a prompt of at least one token per row (B, T0 >= 1), got {got}")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ArgumentError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")

    def real(v) -> bool:  # not a bool, a string or a tensor: math.isfinite and the comparisons below take those
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if not real(temperature) or (top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool))):
        raise ArgumentError(f"temperature must be a number and top_k an integer, got {temperature!r}, {top_k!r}")
    if top_p is not None and not real(top_p):
        raise ArgumentError(f"top_p must be a number in (0, 1], got {top_p!r}")
    if not math.isfinite(temperature) or temperature < 0 or (top_k is not None and top_k < 1):
        raise ArgumentError(f"need a finite temperature >= 0 and top_k >= 1, got {temperature}, {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ArgumentError(f"top_p must lie in (0, 1], got {top_p}")


def cu_seqlens(cu) -> torch.Tensor:
    """``cu_seqlens`` [0, T_1, T_1 + T_2, ..., total]: 1-D integers starting at 0, strictly increasing (CPU, int64)."""
    want = "cu_seqlens must be a 1-D integer tensor [0, ..., total]"
    try:
        cu = torch.as_tensor(cu)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ArgumentError(f"{want}, got {type(cu).__name__} ({e})") from None
    if cu.dim() != 1 or cu.numel() < 2 or cu.is_floating_point() or cu.is_complex() or cu.dtype == torch.bool:
        raise ArgumentError(f"{want}, got {cu.dtype} {tuple(cu.shape)}")
    cu = cu.cpu().long()
    if int(cu[0]) != 0 or bool((cu[1:] <= cu[:-1]).any()):
        raise ArgumentError(f"cu_seqlens must start at 0 and increase strictly, got {cu.tolist()}")
    return cu


def positive_state(who: str, backend: str, log_space: bool, h0: torch.Tensor | None) -> None:
    """A log-space backend takes log(h0): h0 must be positive, as a log-space layer's states always are."""
    if h0 is not None and (not log_space or bool((h0 <= 0).any())):
        raise ArgumentError(
            f"{who}: scan={backend!r} needs a positive h0 (its log is taken); the states of a "
            "log-space layer are always positive"
        )
