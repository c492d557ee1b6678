"""MinGRU (Section 3.1) and MinLSTM (Section 3.2): the layers, in parallel and sequential mode.

Each layer maps x (B, T, dim_in) to h (B, T, dim_hidden). ``forward`` is the parallel mode used for
training; ``step`` is the sequential mode used at inference (constant memory per token).

- ``log_space=True`` (default, Appendix B): candidate states go through g() so they stay positive,
  and parallel mode is Algorithm 6/8 (Listings 8/10) on the log-space scan of Listing 5.
- ``log_space=False`` (Appendix A): h~ = Linear(x), Algorithms 1-4 (Listings 1-4).

The initial state ``h0`` (B, dim_hidden) is the hidden state itself, zeros when omitted, in every
variant and mode. Listings 8 and 10 instead prepend ``log_g(h_0)``: their h_0 is a pre-activation
whose state is g(h_0). To reproduce that, pass ``g(h_0)``. With ``init_hidden_state=True`` an
omitted h0 is a learned state g(w) (log space) or w (vanilla), as in the authors' code.

``scan`` names the backend that computes parallel mode (minrnn.backends), and the layer asks it what it
can do, not what it is called: a fused gate scan reads the Linear outputs directly (resets too, where the
backend says ``fused_resets`` and the initial state is zeros); a log-space scan runs the paper's Listing
8/10 line for line, with Listing 5 applied in chunks of ``log_chunk`` steps, which keeps float32 accurate
at any length (``log_chunk=0``: the listing over the whole sequence); otherwise (other resets) its generic
scan runs on a_t, b_t. ``auto`` picks the device's best.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from minrnn import backends, checks
from minrnn.ops.reference import LOG_CHUNK, g, log_g
from minrnn.resets import reset_coefficients, reset_log_coefficients, step_state


def f32(t: torch.Tensor) -> torch.Tensor:
    """The precision policy: half-precision projections (bf16/fp16 models, autocast) are upcast, so
    the gates and the state are computed in float32 (results/core/layer_precision.md)."""
    return t.float() if t.element_size() < 4 else t


def _plain_linear(m: nn.Module) -> bool:
    """An nn.Linear whose call is F.linear(x, weight, bias) and nothing else: no hook of its own or global
    (forward, pre-forward, backward), no parametrization (which changes its class), so the fused path may
    read its weight and bias directly."""
    hooks = (m._forward_hooks, m._forward_pre_hooks, m._backward_hooks, m._backward_pre_hooks)
    glob = torch.nn.modules.module
    global_hooks = (glob._global_forward_hooks, glob._global_forward_pre_hooks, glob._global_backward_hooks)
    global_hooks += (glob._global_backward_pre_hooks,)
    return type(m) is nn.Linear and not any(hooks) and not any(global_hooks)


class _MinRNN(nn.Module):
    """What MinGRU and MinLSTM share: input checks, the initial state and parallel mode on a backend.

    Subclasses define ``_projection_names`` (the Linear layers in the fused kernel's channel order),
    ``_mode`` (the recurrence, one of minrnn.backends.MODES), ``coefficients(x)`` -> (a, b) in linear
    space and ``log_coefficients(x)`` -> (log a, log b).
    """

    _mode: str
    _projection_names: tuple[str, ...]

    @property
    def _projections(self) -> list[nn.Module]:
        """The projections as they are now: a Linear replaced after construction (LoRA, quantisation) counts."""
        return [getattr(self, name) for name in self._projection_names]

    def __init__(
        self, dim_in: int, dim_hidden: int, log_space: bool, init_hidden_state: bool, scan: str, log_chunk: int
    ):
        super().__init__()
        if log_chunk < 0:
            raise ValueError(f"log_chunk must be >= 0 (0: Listing 5 over the whole sequence), got {log_chunk}")
        if dim_in < 1 or dim_hidden < 1:
            raise ValueError(f"dim_in and dim_hidden must be positive, got {dim_in} and {dim_hidden}")
        backends.check_name(scan)  # reject unknown names now, not at first call (which builds kernels)
        if scan != "auto" and backends.BACKENDS[scan].log_space and not log_space:
            raise ValueError(f"scan={scan!r} needs log_space=True: the vanilla h~ = Linear(x) can be negative")
        self.dim_in, self.dim_hidden, self.log_space, self.scan = dim_in, dim_hidden, log_space, scan
        self.log_chunk = log_chunk
        self.init_hidden_state = nn.Parameter(torch.randn(dim_hidden)) if init_hidden_state else None

    def candidate(self, pre: torch.Tensor) -> torch.Tensor:
        """h~ from Linear_h(x): g(.) in log space (Appendix B), identity otherwise (Appendix A)."""
        return g(pre) if self.log_space else pre

    def initial_state(self, batch: int, like: torch.Tensor) -> torch.Tensor | None:
        """The state before t = 1 when none is given: the learned one, else None (zeros)."""
        if self.init_hidden_state is None:
            return None
        return self.candidate(self.init_hidden_state).to(like.dtype).expand(batch, -1)

    supports_resets = True  # Block passes resets on to layers that say so

    def forward(
        self,
        x: torch.Tensor,
        h0: torch.Tensor | None = None,
        return_state: bool = False,
        resets: torch.Tensor | None = None,
    ):
        """Parallel mode: x (B, T, dim_in), h0 (B, dim_hidden) or None -> h (B, T, dim_hidden); with
        ``return_state``, (h, h_T): the state after x, to pass as the next chunk's h0 (or to ``step``).
        ``resets`` (B, T) bool: True at t where a new sequence starts, whose state before t is the
        initial state (the learned one, else zeros), not h_{t-1} (minrnn.resets; packed sequences)."""
        h = self._forward(x, h0, resets)
        return (h, h[:, -1]) if return_state else h

    def _forward(self, x: torch.Tensor, h0: torch.Tensor | None, resets: torch.Tensor | None = None) -> torch.Tensor:
        checks.layer_call(self, x, h0, step=False)
        if resets is not None:
            checks.resets(type(self).__name__, resets, x.shape[0], x.shape[1], x.device)
        if h0 is None:
            h0 = self.initial_state(x.shape[0], x)
        elif h0.dtype != x.dtype:
            h0 = h0.to(x.dtype)  # every backend takes the state in the input's dtype
        backend = backends.get(self.scan, x.device, any_sign=not self.log_space)
        # fused resets restart from zeros; a learned initial state takes the change of coefficients below
        fused_resets = backend.fused_resets and self.init_hidden_state is None
        if backend.gate_scan is not None and (resets is None or fused_resets):
            return self._gate_scan(backend, x, h0, resets)
        initial = self.initial_state(x.shape[0], x) if resets is not None else None
        if backend.log_space:
            return self._scan_log(backend, x, h0, resets, initial)
        a, b = self.coefficients(x)  # float32 for half inputs (f32): a float32 state
        if resets is not None:  # a_t = 0, b_t += a_t s where a sequence starts (minrnn.resets)
            a, b = reset_coefficients(a, b, resets, initial.to(a.dtype) if initial is not None else None)
        return backend.scan(a, b, h0.to(a.dtype) if h0 is not None else None).to(x.dtype)

    def _scan_log(self, backend, x: torch.Tensor, h0: torch.Tensor | None, resets, initial) -> torch.Tensor:
        """Algorithm 6/8: the log-space parallel scan (Listing 5) on log-coefficients and log-values,
        in chunks of ``log_chunk`` steps chained across chunks (minrnn.ops.reference; 0: unchunked, as printed).

        Computed in float32 at least (log_coefficients upcasts half projections, f32): under bf16/fp16
        autocast, logcumsumexp in half precision loses the state (Appendix B's point is numerical stability)."""
        log_a, log_b = self.log_coefficients(x)
        if resets is not None:
            log_s = None if initial is None else initial.log().to(log_b.dtype)
            log_a, log_b = reset_log_coefficients(log_a, log_b, resets, log_s)
        checks.positive_state(type(self).__name__, backend.name, self.log_space, h0)
        log_h0 = h0.log().to(log_b.dtype) if h0 is not None else None
        return backend.scan(log_a, log_b, log_h0, self.log_chunk).to(x.dtype)

    def _gate_scan(self, backend, x: torch.Tensor, h0: torch.Tensor | None, resets=None) -> torch.Tensor:
        """The backend's fused gate scan on all projections at once: one matmul, without the bias when
        the kernel adds it as it reads p (``adds_bias``). Projections that are not plain nn.Linear
        (replaced after construction: LoRA, quantisation; a hook; a parametrization such as weight_norm)
        are each called as they are."""
        projections = self._projections
        if all(_plain_linear(lin) for lin in projections) and len({lin.bias is None for lin in projections}) == 1:
            weight = torch.cat([lin.weight for lin in projections])
            bias = None if projections[0].bias is None else torch.cat([lin.bias for lin in projections])
            if not backend.adds_bias:
                p, bias = F.linear(x, weight, bias), None
            else:
                p = F.linear(x, weight)
        else:
            p, bias = torch.cat([lin(x) for lin in projections], dim=-1), None
        return backend.gate_scan(p, h0, self._mode, self.log_space, bias, resets).to(x.dtype)

    def step(
        self, x_t: torch.Tensor, h_prev: torch.Tensor | None = None, reset: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Sequential mode: x_t (B, dim_in), h_prev (B, dim_hidden) or None -> h_t (B, dim_hidden).
        ``reset`` (B,) bool: rows where a new sequence starts at this step start from the initial state."""
        checks.layer_call(self, x_t, h_prev, step=True)
        if reset is not None:
            checks.resets(f"{type(self).__name__}.step", reset, x_t.shape[0], None, x_t.device)
        if h_prev is not None and h_prev.dtype != x_t.dtype:
            h_prev = h_prev.to(x_t.dtype)
        h_prev = step_state(h_prev, reset, self.initial_state(x_t.shape[0], x_t))
        a, b = (t.squeeze(1) for t in self.coefficients(x_t.unsqueeze(1)))  # float32 for half inputs (f32)
        h_t = b if h_prev is None else a * h_prev.to(a.dtype) + b
        return h_t.to(x_t.dtype)


class MinGRU(_MinRNN):
    """minGRU: z_t = sigmoid(Linear_z(x_t)), h_t = (1 - z_t) h_{t-1} + z_t h~_t (Section 3.1.3).

    Parameters as in Listings 1-2 and 7-8: ``linear_z``, ``linear_h``.
    """

    _mode = "gru"

    def __init__(
        self,
        dim_in: int,
        dim_hidden: int,
        *,
        log_space: bool = True,
        bias: bool = True,
        init_hidden_state: bool = False,
        scan: str = "auto",
        log_chunk: int = LOG_CHUNK,
    ):
        super().__init__(dim_in, dim_hidden, log_space, init_hidden_state, scan, log_chunk)
        self.linear_z = nn.Linear(dim_in, dim_hidden, bias=bias)
        self.linear_h = nn.Linear(dim_in, dim_hidden, bias=bias)
        self._projection_names = ("linear_z", "linear_h")

    def coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Algorithms 1/5 (Listings 1/7): a = 1 - z, b = z * h~."""
        z = torch.sigmoid(f32(self.linear_z(x)))
        h_tilde = self.candidate(f32(self.linear_h(x)))
        return 1 - z, z * h_tilde

    def log_coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Listing 8, lines 5-9: log(1 - z) = -softplus(k), log(z) + log g(Linear_h(x))."""
        k = f32(self.linear_z(x))
        log_z = -F.softplus(-k)
        log_coeffs = -F.softplus(k)
        log_tilde_h = log_g(f32(self.linear_h(x)))
        return log_coeffs, log_z + log_tilde_h


class MinLSTM(_MinRNN):
    """minLSTM: f_t, i_t = sigmoid(Linear_f(x_t)), sigmoid(Linear_i(x_t)), h_t = f_t h_{t-1} + i_t h~_t.

    ``normalize_gates=True`` uses f' = f / (f + i), i' = i / (f + i) (Section 3.2.3, Algorithms 3-4
    and 7-8; the v1 paper always normalises). The default, False, follows the authors' released
    code (``use_coeff_norm: False``). ``forget_bias`` is added to ``linear_f``'s initial bias
    (Appendix D.4, Figure 5); the default 3.0 is the released code's ``forget_bias_init_scale``.
    Parameters as in Listings 3-4 and 9-10: ``linear_f``, ``linear_i``, ``linear_h``.
    """

    def __init__(
        self,
        dim_in: int,
        dim_hidden: int,
        *,
        log_space: bool = True,
        bias: bool = True,
        normalize_gates: bool = False,
        forget_bias: float = 3.0,
        init_hidden_state: bool = False,
        scan: str = "auto",
        log_chunk: int = LOG_CHUNK,
    ):
        super().__init__(dim_in, dim_hidden, log_space, init_hidden_state, scan, log_chunk)
        self.linear_f = nn.Linear(dim_in, dim_hidden, bias=bias)
        self.linear_i = nn.Linear(dim_in, dim_hidden, bias=bias)
        self.linear_h = nn.Linear(dim_in, dim_hidden, bias=bias)
        self._projection_names = ("linear_f", "linear_i", "linear_h")
        self.normalize_gates = normalize_gates
        if forget_bias:
            if not bias:
                raise ValueError("forget_bias needs bias=True")
            with torch.no_grad():
                self.linear_f.bias.add_(forget_bias)

    @property
    def _mode(self) -> str:
        """The fused recurrence: read at each call, so a ``normalize_gates`` changed after construction counts."""
        return "lstm_norm" if self.normalize_gates else "lstm"

    def coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Algorithms 3/7 (Listings 3/9): a = f', b = i' * h~ (f, i when not normalised)."""
        f_t = torch.sigmoid(f32(self.linear_f(x)))
        i_t = torch.sigmoid(f32(self.linear_i(x)))
        tilde_h = self.candidate(f32(self.linear_h(x)))
        if self.normalize_gates:
            f_t, i_t = f_t / (f_t + i_t), i_t / (f_t + i_t)
        return f_t, i_t * tilde_h

    def log_coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Listing 10, lines 5-10: log f', log i' via softplus differences (log f, log i if not normalised)."""
        if self.normalize_gates:
            diff = F.softplus(-f32(self.linear_f(x))) - F.softplus(-f32(self.linear_i(x)))
            log_f = -F.softplus(diff)
            log_i = -F.softplus(-diff)
        else:
            log_f = -F.softplus(-f32(self.linear_f(x)))
            log_i = -F.softplus(-f32(self.linear_i(x)))
        log_tilde_h = log_g(f32(self.linear_h(x)))
        return log_f, log_i + log_tilde_h
