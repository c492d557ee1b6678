"""Fast decoding: SequenceModel's sequential mode (Algorithms 5/7 in the Appendix C.2 block) as one
fixed program of a few calls per block, for ``generate`` on the CPU and on CUDA.

The eager ``SequenceModel.step`` stays the reference (tests/test_decode.py: this step equals it, and
both equal parallel mode). Per token the eager step runs some sixty small torch ops and module calls
per block, which at batch 1 cost far more than the arithmetic. Here a ``Decoder`` built for a model
and a batch size owns every buffer of a step, and a step is: the embedding row, then per block

    conv -> x += y W_pw^T -> norm -> p = n W^T + b -> gate step (h in place)
    -> x += h W_down^T -> norm -> u = n W_1^T + b_1 -> GELU -> x += u W_2^T

with the matrix products in torch writing into the buffers. The conv, the norms and the gate step
come from one of two kernel sets, by the model's device:

- ``_CKernels`` (CPU): the C kernels of minrnn/ops/csrc/step.c, called with pointers fixed when the
  decoder is built (checked once, then). A bias that ``x += u W^T`` leaves out is added by the next
  kernel, which reads x anyway.
- ``_TorchKernels`` (CUDA): the conv over the cached window and the norms as torch ops on the buffers,
  the gate step as the Triton kernel of minrnn.ops.triton_step (``minrnn::triton_gate_step``). On a
  CUDA device the whole step is then captured once in a CUDA graph (``_Graph``, optional: without it,
  or where capture fails, the program runs op by op). Tests run this set on CPU tensors under
  ``TRITON_INTERPRET=1`` (``kernels="triton"``).

``problem(model)`` says why a model cannot take this path (then ``generate`` runs the eager step):
it is for CPU or CUDA float32/float64 token models of MinGRU/MinLSTM blocks in eval mode (or without
dropout), with plain nn.Linear layers and no hooks; on CUDA it needs Triton.
"""

from __future__ import annotations

import ctypes
import os
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from minrnn import backends, checks
from minrnn.blocks import MLP, RMSNorm
from minrnn.layers import MinGRU, MinLSTM, _plain_linear
from minrnn.ops import step as kernels_c


def _norm_problem(norm: nn.Module) -> str | None:
    if type(norm) not in (RMSNorm, nn.RMSNorm, nn.LayerNorm) or norm.weight is None:
        return f"a norm the decoder does not know ({type(norm).__name__} without its weight)"
    if len(norm.normalized_shape) != 1:
        return "a norm over more than the last dimension"
    return None


KERNELS = ("auto", "c", "triton")  # auto: c on CPU, triton on CUDA


def _kernels(device: torch.device, kernels: str) -> str:
    if kernels not in KERNELS:
        raise ValueError(f"Decoder: kernels must be one of {', '.join(KERNELS)}, got {kernels!r}")
    return kernels if kernels != "auto" else "triton" if device.type == "cuda" else "c"


def _kernels_problem(device: torch.device, kernels: str) -> str | None:
    """Why the kernel set cannot run on ``device``, or None."""
    if kernels == "c":
        return "the C kernels run on CPU models" if device.type != "cpu" else kernels_c.problem()
    if device.type == "cuda":
        return backends.triton_problem(device)
    if device.type != "cpu" or os.environ.get("TRITON_INTERPRET") != "1":
        return f"the Triton step runs on CUDA, or on CPU under TRITON_INTERPRET=1, not on {device.type}"
    try:
        backends.triton_kernels(device)
    except ValueError as e:
        return str(e)
    return None


def problem(model: nn.Module, kernels: str = "auto") -> str | None:
    """None when ``Decoder(model, batch, kernels)`` runs model's step; else why it cannot (one line)."""
    from minrnn.model import SequenceModel

    if type(model) is not SequenceModel or model.vocab_size is None:
        return "the fast step is for minrnn's SequenceModel on tokens"
    params = list(model.parameters())
    devices = {p.device for p in params}
    if len(devices) != 1 or next(iter(devices)).type not in ("cpu", "cuda"):
        return "the fast step is for models on one CPU or CUDA device"
    if any(p.dtype not in (torch.float32, torch.float64) for p in params):
        return "the fast step is for models in float32 or float64"
    if len({p.dtype for p in params}) != 1:
        return "the model's parameters have more than one dtype"
    if type(model.embed) is not nn.Embedding or model.embed.max_norm is not None:
        return "an embedding the decoder does not know (max_norm renormalises it as it reads)"
    (device,) = devices
    if torch.is_autocast_enabled(device.type):
        return "autocast is on"
    for m in model.modules():
        if any((m._forward_hooks, m._forward_pre_hooks)):
            return f"a hook on {type(m).__name__}"
        if isinstance(m, nn.Dropout) and m.training and m.p > 0:
            return "dropout is active (the model is in training mode)"
        if isinstance(m, nn.Linear) and not _plain_linear(m):
            return f"a Linear layer that is not a plain nn.Linear ({type(m).__name__})"
    for block in model.blocks:
        if type(block.rnn) not in (MinGRU, MinLSTM):
            return f"the fast step is for MinGRU and MinLSTM blocks, not {type(block.rnn).__name__}"
        if len({lin.bias is None for lin in block.rnn._projections}) != 1:
            return "projections with and without bias"
        known_mlp = type(block.mlp) is MLP and [type(m) for m in block.mlp.net] == [
            nn.Linear,
            nn.GELU,
            nn.Dropout,
            nn.Linear,
        ]
        if block.mlp is not None and not known_mlp:
            return "an MLP the decoder does not know"
        for norm in (block.norm, block.mlp_norm):
            if norm is not None and (why := _norm_problem(norm)):
                return why
    return _norm_problem(model.norm) or _kernels_problem(device, _kernels(device, kernels))


def _fingerprint(model: nn.Module) -> tuple:
    """What the decoder read when it was built: every parameter and buffer (which tensor, its storage,
    dtype and in-place version: load_state_dict, an optimizer step, .double() all change one) and the
    modules' training flags."""
    tensors = (*model.parameters(), *model.buffers())
    versions = tuple((id(t), t.data_ptr(), t.dtype, t._version) for t in tensors)
    return versions, tuple(m.training for m in model.modules())


class Decoder:
    """model's sequential mode for ``batch`` rows: ``load(state)``, then ``step(tokens)`` -> logits
    (batch, vocab), a buffer that the next step overwrites; ``state()`` returns copies in the eager
    step's structure. Weights are read when it is built (a decoder per generation): ``load`` refuses
    a model changed since (weights replaced or updated, dtype, train/eval mode), and ``step`` assumes
    none changes between ``load`` and the last step. ``kernels``: "auto" (C on CPU, Triton on CUDA),
    "c" or "triton"; ``graph``: on CUDA, replay the step as a CUDA graph (when capture works)."""

    def __init__(self, model: nn.Module, batch: int, kernels: str = "auto", graph: bool = True):
        device = model.head.weight.device
        why = problem(model, kernels)
        if why is not None:
            raise ValueError(f"Decoder: {why}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"Decoder: batch must be a positive integer, got {batch!r}")
        self.model, self.batch = model, batch
        self.dtype, self.device = model.head.weight.dtype, device
        self.kernels = (_CKernels if _kernels(device, kernels) == "c" else _TorchKernels)(self)
        self.embedding = model.embed.weight.detach()
        dim = self.embedding.shape[1]
        self.x, self.n = self._buffer(dim), self._buffer(dim)
        self.logits = self._buffer(model.head.weight.shape[0])
        self.conv_states: list[torch.Tensor | None] = []
        self.hs: list[torch.Tensor] = []
        self.program: list = []  # zero-argument calls, in order: one step after the embedding
        pending = None
        for block in model.blocks:
            pending = self._block(block, pending)
        self._norm(model.norm, pending)
        self._product(self.n, model.head.weight, model.head.bias, self.logits)
        self._built = _fingerprint(model)
        self.graph = _Graph.of(self) if graph and device.type == "cuda" else None

    @property
    def path(self) -> str:
        """How a step runs, in words (the speed card records it)."""
        graph = ", in a CUDA graph" if self.graph is not None else ""
        return f"{self.kernels.__doc__.split(':')[0]}{graph}"

    def _buffer(self, *shape: int) -> torch.Tensor:
        return torch.zeros(self.batch, *shape, dtype=self.dtype, device=self.device)

    def _product(self, u: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, out: torch.Tensor) -> None:
        """out = u W^T + b, W (out, in) as nn.Linear keeps it."""
        if bias is None:
            self.program.append(partial(torch.mm, u, weight.detach().t(), out=out))
        else:
            self.program.append(partial(torch.addmm, bias.detach(), u, weight.detach().t(), out=out))

    def _add_product(self, u: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor | None:
        """x += u W^T; returns the bias, left for the next kernel to add."""
        self.program.append(partial(self.x.addmm_, u, weight.detach().t()))
        return None if bias is None else bias.detach().contiguous()

    def _norm(self, norm: nn.Module, pending: torch.Tensor | None) -> None:
        """n = norm(x + pending), x updated."""
        kind = 0 if isinstance(norm, nn.RMSNorm) else 1
        eps = norm.eps if norm.eps is not None else torch.finfo(self.dtype).eps
        bias = getattr(norm, "bias", None)
        bias = None if bias is None else bias.detach().contiguous()
        self.kernels.norm(kind, float(eps), pending, norm.weight.detach().contiguous(), bias)

    def _block(self, block: nn.Module, pending: torch.Tensor | None) -> torch.Tensor | None:
        """Append one block's step (minrnn.blocks.Block.step); returns its last bias, still to add."""
        if block.conv is not None:
            weight = block.conv.depthwise.weight.detach()[:, 0].t().contiguous()  # (K, D)
            y = self._buffer(self.x.shape[1])
            self.conv_states.append(self.kernels.conv(pending, weight, block.conv.depthwise.bias.detach(), y))
            pending = self._add_product(y, block.conv.pointwise.weight[:, :, 0], block.conv.pointwise.bias)
        else:
            self.conv_states.append(None)
        self._norm(block.norm, pending)
        rnn = block.rnn
        projections = rnn._projections
        weight = torch.cat([lin.weight.detach() for lin in projections])  # one product: [z | h] or [f | i | h]
        bias = None if projections[0].bias is None else torch.cat([lin.bias.detach() for lin in projections])
        p, h = self._buffer(weight.shape[0]), self._buffer(rnn.dim_hidden)
        self._product(self.n, weight, bias, p)
        self.kernels.gate(rnn._mode, rnn.log_space, p, h)
        self.hs.append(h)
        pending = self._add_product(h, block.down.weight, block.down.bias)
        if block.mlp is None:
            return pending
        self._norm(block.mlp_norm, pending)
        up, act, _, down = block.mlp.net
        u = self._buffer(up.out_features)
        self._product(self.n, up.weight, up.bias, u)
        self.program.append(partial(torch._C._nn.gelu_, u, approximate=act.approximate))
        return self._add_product(u, down.weight, down.bias)

    @torch.no_grad()  # inference only: a prefill's state or a learned h0 would carry autograd into the buffers
    def load(self, state: list | None) -> None:
        """Start from ``state`` (the eager step's: per block (conv inputs or None, h)); None: the
        initial state (zeros, or the layer's learned one)."""
        if _fingerprint(self.model) != self._built:
            raise ValueError(
                "Decoder: the model changed since this decoder was built (its weights, dtype or train/eval "
                "mode): build a new Decoder, which reads the model as it is now"
            )
        if state is not None and (not isinstance(state, (list, tuple)) or len(state) != len(self.hs)):
            raise ValueError(f"Decoder.load: state must be a list of {len(self.hs)} (conv state, h) pairs, one a block")
        for i, block in enumerate(self.model.blocks):
            conv_state, h = state[i] if state is not None else (None, None)
            for name, given, buffer in (("conv state", conv_state, self.conv_states[i]), ("h", h, self.hs[i])):
                # copy_ would broadcast a state of one row (or a scalar) to every row
                if given is not None and (buffer is None or getattr(given, "shape", None) != buffer.shape):
                    want = None if buffer is None else tuple(buffer.shape)
                    got = tuple(given.shape) if isinstance(given, torch.Tensor) else type(given).__name__
                    raise ValueError(f"Decoder.load: block {i}'s {name} must have shape {want}, got {got}")
            if self.conv_states[i] is not None:
                self.conv_states[i].copy_(conv_state if conv_state is not None else 0)
            if h is None:
                h = block.rnn.initial_state(self.batch, self.hs[i])
            self.hs[i].copy_(h if h is not None else 0)

    def state(self) -> list:
        """A copy of the state, as SequenceModel.step returns it."""
        return [(None if c is None else c.clone(), h.clone()) for c, h in zip(self.conv_states, self.hs, strict=True)]

    @torch.no_grad()  # the out= products refuse inputs that require grad
    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (batch,) -> logits (batch, vocab): the decoder's buffer, valid until the next step."""
        if tokens.shape != (self.batch,) or tokens.dtype != torch.int64 or tokens.device != self.device:
            raise ValueError(
                f"Decoder.step: tokens must be int64 of shape ({self.batch},) on {self.device}, got {tokens.dtype} "
                f"{tuple(tokens.shape)} on {tokens.device}"
            )
        if self.graph is not None:
            self.graph.replay(tokens)  # on CUDA an id out of range is a device-side assert: unchecked (a sync a token)
        else:
            try:
                self._run(tokens)
            except IndexError:  # the embedding's index_select, before any state is written (CPU)
                raise checks.ArgumentError(
                    f"Decoder.step: token ids must lie in [0, {self.embedding.shape[0]}), got {tokens.tolist()}"
                ) from None
        return self.logits

    def _run(self, tokens: torch.Tensor) -> None:
        torch.index_select(self.embedding, 0, tokens, out=self.x)
        for call in self.program:
            call()


class _CKernels:
    """csrc/step.c's C kernels: the conv, norm and gate steps (CPU), with ctypes arguments fixed now."""

    def __init__(self, decoder: Decoder):
        self.d = decoder
        self.lib, self.suffix = kernels_c.library(), kernels_c.suffix(decoder.dtype)
        self._keep: list[torch.Tensor] = []  # what the C kernels hold pointers to

    def _call(self, name: str, *args) -> None:
        """Append a call of the C kernel ``name`` (step.c) on these arguments, as ctypes values now."""
        fn, dtype = getattr(self.lib, f"{name}_{self.suffix}"), self.d.dtype
        values = []
        for a in args:
            if a is None or isinstance(a, torch.Tensor):
                if a is not None:
                    if not a.is_contiguous() or a.dtype != dtype or a.device.type != "cpu":
                        raise ValueError(f"Decoder: {name} needs contiguous CPU {dtype}, got {a.dtype}")
                    self._keep.append(a)  # the pointer stays valid while the decoder lives
                values.append(ctypes.c_void_p(0 if a is None else a.data_ptr()))
            elif isinstance(a, float):
                values.append(ctypes.c_double(a))
            else:
                values.append(a if isinstance(a, ctypes.c_int) else ctypes.c_int64(a))
        self.d.program.append(partial(fn, *values))

    def conv(self, pending, weight: torch.Tensor, bias: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x += pending; y = the depthwise conv over [state, x]; the state (B, K-1, D) shifts. Returns the state."""
        (K, D), x = weight.shape, self.d.x
        state = self.d._buffer(K - 1, D)
        self._call("dec_conv", self.d.batch, D, K, x, pending, state, weight, bias, y)
        return state

    def norm(self, kind: int, eps: float, pending, weight: torch.Tensor, bias) -> None:
        """x += pending; n = RMSNorm (kind 0) or LayerNorm (kind 1) of x."""
        x = self.d.x
        self._call("dec_norm", self.d.batch, x.shape[1], ctypes.c_int(kind), eps, x, pending, weight, bias, self.d.n)

    def gate(self, mode: str, use_g: bool, p: torch.Tensor, h: torch.Tensor) -> None:
        """h <- the recurrence's step from p (biases added) and h."""
        args = (ctypes.c_int(backends.MODES[mode]), ctypes.c_int(use_g), p, h)
        self._call("dec_gate", self.d.batch, h.shape[1], *args)


class _TorchKernels:
    """torch ops and the Triton gate step: the same three steps as torch ops on the decoder's buffers, the
    gate step as minrnn.ops.triton_step's kernel (CUDA, or CPU tensors under TRITON_INTERPRET=1)."""

    def __init__(self, decoder: Decoder):
        from minrnn.ops import triton_step  # imports triton: only here

        self.d, self.triton_step = decoder, triton_step

    def _pending(self, pending) -> None:
        if pending is not None:
            self.d.program.append(partial(self.d.x.add_, pending))

    def conv(self, pending, weight: torch.Tensor, bias: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """As _CKernels.conv, on a window buffer (B, K, D) whose first K-1 rows are the state."""
        (K, D), program = weight.shape, self.d.program
        window, product, shifted = self.d._buffer(K, D), self.d._buffer(K, D), self.d._buffer(K - 1, D)
        self._pending(pending)
        program.append(partial(window[:, K - 1].copy_, self.d.x))
        program.append(partial(torch.mul, window, weight, out=product))
        program.append(partial(torch.sum, product, 1, out=y))
        program.append(partial(y.add_, bias))
        program += [partial(shifted.copy_, window[:, 1:]), partial(window[:, : K - 1].copy_, shifted)]
        return window[:, : K - 1]

    def norm(self, kind: int, eps: float, pending, weight: torch.Tensor, bias) -> None:
        x, n = self.d.x, self.d.n
        self._pending(pending)
        if kind == 0:
            norm = partial(F.rms_norm, x, (x.shape[1],), weight, eps)
        else:
            norm = partial(F.layer_norm, x, (x.shape[1],), weight, bias, eps)
        self.d.program.append(lambda: n.copy_(norm()))

    def gate(self, mode: str, use_g: bool, p: torch.Tensor, h: torch.Tensor) -> None:
        self.d.program.append(self.triton_step.launcher(p, h, h, mode, use_g))


# ---- optional: the step as one CUDA graph ------------------------------------------------------------------


class _Graph:
    """The decoder's step captured once in a torch.cuda.CUDAGraph and replayed per token: one launch
    instead of the program's hundreds of small ones. ``of(decoder)``: None where capture fails."""

    def __init__(self, decoder: Decoder):
        self.tokens = torch.zeros(decoder.batch, dtype=torch.int64, device=decoder.device)
        side, current = torch.cuda.Stream(decoder.device), torch.cuda.current_stream(decoder.device)
        side.wait_stream(current)
        with torch.cuda.stream(side):
            decoder._run(self.tokens)  # warm-up outside the capture: Triton compiles, cuBLAS picks its kernels
        current.wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            decoder._run(self.tokens)

    @classmethod
    def of(cls, decoder: Decoder) -> _Graph | None:
        try:
            return cls(decoder)
        except RuntimeError:  # capture unsupported here: the program runs op by op
            return None
        finally:
            for buffer in (*decoder.hs, *(c for c in decoder.conv_states if c is not None)):
                buffer.zero_()  # the warm-up stepped the state

    def replay(self, tokens: torch.Tensor) -> None:
        self.tokens.copy_(tokens)
        self.graph.replay()
