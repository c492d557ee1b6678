"""Mamba (Gu & Dao, 2024) as a baseline: mamba-ssm's block on CUDA when installed, else pure PyTorch.

The pure-PyTorch block runs S6's recurrence h_t = exp(delta_t A) h_{t-1} + delta_t B_t x_t, which is
minGRU's diagonal linear scan over d_inner x d_state channels, on minrnn's own scan (the compiled
CPU kernel, or the Triton kernel on CUDA; minrnn.backends' names): the paper's thesis, in code. ``selective_scan``
follows the semantics of mamba-ssm's ``selective_scan_ref``. Each model records which implementation
ran in ``implementation``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from minrnn import backends
from minrnn.blocks import RMSNorm
from minrnn.model import input_layer
from minrnn.ops import native
from minrnn.scan import scan


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, backend="auto"):
    """mamba-ssm's selective_scan_ref: u, delta (b, d, l); A (d, n); B, C (b, n, l); D (d,); z (b, d, l).

    h_t = exp(delta_t A) * h_{t-1} + delta_t B_t u_t (per channel d and state n), y_t = C_t . h_t + D u_t,
    then y * silu(z). Returns y (b, d, l). ``backend`` is a name of minrnn.backends: ``cpu`` runs the
    fused compiled S6 kernel (minrnn.ops.native.selective_scan, a registered op); any other the backend's
    scan over d * n channels. ``auto`` resolves as for a vanilla layer (B u has either sign, so never
    ``log``): ``cpu`` on CPU, ``triton`` on CUDA, else ``sequential``.
    """
    if delta_bias is not None:
        delta = delta + delta_bias[..., None]
    if delta_softplus:
        delta = F.softplus(delta)
    if backend == "auto":
        backend = backends.resolve(backend, u.device, any_sign=True)
    if backend == "cpu":
        dtype = u.dtype if u.dtype in (torch.float32, torch.float64) else torch.float32
        y, _ = native.selective_scan(
            *(  # contiguous here, so inductor's stride checks around the op see the layout it uses
                t.to(dtype).contiguous()
                for t in (u.transpose(1, 2), delta.transpose(1, 2), A, B.transpose(1, 2), C.transpose(1, 2))
            )
        )
        y = y.transpose(1, 2).to(u.dtype)
    else:
        b, d, l = u.shape  # noqa: E741
        n = A.shape[1]
        delta_A = torch.exp(torch.einsum("bdl,dn->bldn", delta, A))
        delta_B_u = torch.einsum("bdl,bnl,bdl->bldn", delta, B, u)
        h = scan(delta_A.reshape(b, l, d * n), delta_B_u.reshape(b, l, d * n), backend=backend).view(b, l, d, n)
        y = torch.einsum("bldn,bnl->bdl", h, C)
    if D is not None:
        y = y + u * D[:, None]
    if z is not None:
        y = y * F.silu(z)
    return y


class MambaMixer(nn.Module):
    """The Mamba block's mixer: in_proj -> causal conv (k=4) + SiLU -> S6 -> gate by SiLU(z) -> out_proj."""

    def __init__(
        self, dim: int, d_state: int = 16, d_conv: int = 4, expand: int = 2, dt_min: float = 1e-3, dt_max: float = 0.1
    ):
        super().__init__()
        self.d_inner, self.d_state = expand * dim, d_state
        self.dt_rank = math.ceil(dim / 16)
        self.in_proj = nn.Linear(dim, 2 * self.d_inner, bias=False)
        self.conv = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner)
        self.d_conv = d_conv
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner)
        # Mamba's initialisation: dt log-uniform in [dt_min, dt_max] through softplus; A = -(1..N); D = 1
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(self.d_inner, 1))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.A_log._no_weight_decay = self.D._no_weight_decay = True  # as mamba-ssm (minrnn's trainer honours it)
        self.out_proj = nn.Linear(self.d_inner, dim, bias=False)

    def _ssm_inputs(self, x):  # x (B, L, d_inner) after conv
        dt, B, C = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        return self.dt_proj.weight @ dt.transpose(1, 2), B.transpose(1, 2), C.transpose(1, 2)

    def forward(self, x: torch.Tensor, state=None, return_state: bool = False):
        """Parallel mode over (B, L, dim); with return_state, also the state after x for ``step``."""
        if state is not None:
            raise ValueError("MambaMixer's parallel mode starts from an empty state (prefill); use step to continue")
        L = x.shape[1]
        xz = self.in_proj(x)
        xi_raw, z = xz.chunk(2, dim=-1)
        xi = F.silu(self.conv(F.pad(xi_raw.transpose(1, 2), (self.d_conv - 1, 0)))[..., :L])  # (B, d_inner, L)
        delta, B, C = self._ssm_inputs(xi.transpose(1, 2))
        A = -torch.exp(self.A_log.float())
        y = selective_scan(
            xi,
            delta,
            A,
            B,
            C,
            self.D.float(),
            z.transpose(1, 2),
            delta_bias=self.dt_proj.bias.float(),
            delta_softplus=True,
        )
        out = self.out_proj(y.transpose(1, 2))
        if not return_state:
            return out
        conv_state = F.pad(xi_raw, (0, 0, max(self.d_conv - 1 - L, 0), 0))[:, -(self.d_conv - 1) :]
        return out, (conv_state, self._last_state(xi, F.softplus(delta + self.dt_proj.bias[:, None]), A, B))

    @staticmethod
    def _last_state(u, delta, A, B, chunk: int = 256):
        """h_L = sum_t exp(A * sum_{s>t} delta_s) * delta_t u_t B_t (S6 unrolled), in chunks of time."""
        after = F.pad(delta[..., 1:].flip(-1).cumsum(-1).flip(-1), (0, 1))  # (b, d, l): sum of delta over s > t
        dt = torch.promote_types(u.dtype, torch.float32)  # float32 at least, as the scan kernel
        h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1], dtype=dt)
        for t0 in range(0, u.shape[-1], chunk):
            sl = slice(t0, t0 + chunk)
            decay = torch.exp(after[..., sl, None].to(dt) * A[:, None])  # (b, d, c, n)
            h = h + torch.einsum("bdcn,bdc,bnc->bdn", decay, (delta[..., sl] * u[..., sl]).to(dt), B[..., sl].to(dt))
        return h

    def step(self, x_t: torch.Tensor, state=None):
        """One token (B, dim) with state (conv inputs (B, d_conv-1, d_inner), ssm state (B, d_inner, N))."""
        conv_state, h = state if state is not None else (None, None)
        xi, z = self.in_proj(x_t).chunk(2, dim=-1)
        if conv_state is None:
            conv_state = xi.new_zeros(xi.shape[0], self.d_conv - 1, self.d_inner)
        window = torch.cat([conv_state, xi.unsqueeze(1)], 1)
        xi = F.silu(torch.einsum("bkd,dk->bd", window, self.conv.weight.squeeze(1)) + self.conv.bias)
        dt, B, C = self.x_proj(xi).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))  # (B, d_inner)
        A = -torch.exp(self.A_log.float())
        h_new = torch.exp(delta[..., None] * A) * (0 if h is None else h) + (delta * xi)[..., None] * B[:, None]
        y = (h_new * C[:, None]).sum(-1) + self.D * xi
        return self.out_proj(y * F.silu(z)), (window[:, 1:], h_new)


class _Cache:
    """mamba-ssm's InferenceParams, as far as its Mamba block reads it (a prefill fills the states)."""

    def __init__(self):
        self.key_value_memory_dict, self.seqlen_offset = {}, 0


class MambaSSMMixer(nn.Module):
    """mamba-ssm's Mamba block behind MambaMixer's interface: ``forward(x, return_state)`` and ``step``.

    Its state is mamba-ssm's own: (conv_state (B, d_inner, d_conv), ssm_state (B, d_inner, d_state)),
    filled by a prefill through its inference cache and advanced by its ``step``.
    """

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor, state=None, return_state: bool = False):
        if state is not None:
            raise ValueError("MambaSSMMixer's parallel mode starts from an empty state (prefill); use step")
        if not return_state:
            return self.block(x)
        cache = _Cache()
        out = self.block(x, inference_params=cache)
        return out, cache.key_value_memory_dict[self.block.layer_idx]

    def step(self, x_t: torch.Tensor, state=None):
        if state is None:
            state = self.block.allocate_inference_cache(x_t.shape[0], 1, dtype=x_t.dtype)
        conv_state, ssm_state = (s.clone() for s in state)  # mamba-ssm updates them in place
        out, conv_state, ssm_state = self.block.step(x_t.unsqueeze(1), conv_state, ssm_state)
        return out.squeeze(1), (conv_state, ssm_state)


def _mamba_ssm_block(dim, d_state, d_conv, expand, device):
    """mamba-ssm's Mamba block (as a MambaSSMMixer) when the run's device is CUDA and the package
    imports, else None."""
    if device is None or torch.device(device).type != "cuda":
        return None
    try:
        from mamba_ssm import Mamba as MambaSSM
    except Exception:
        return None
    return MambaSSMMixer(MambaSSM(d_model=dim, d_state=d_state, d_conv=d_conv, expand=expand, layer_idx=0))


class Mamba(nn.Module):
    """Embedding, depth x (x + Mixer(RMSNorm(x))), RMSNorm, head: the Mamba language-model layout."""

    def __init__(
        self,
        *,
        dim: int,
        depth: int,
        dim_out: int,
        vocab_size: int | None = None,
        dim_in: int | None = None,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        implementation: str = "auto",
        device: str | None = None,
    ):
        """``device``: the run's device (minrnn-train passes it); ``auto`` takes mamba-ssm's block only
        when it is CUDA and mamba-ssm imports, else the pure-PyTorch mixers."""
        super().__init__()
        if implementation not in ("auto", "mamba_ssm", "minrnn"):
            raise ValueError(f"Mamba implementation must be auto, mamba_ssm or minrnn, got {implementation!r}")
        self.vocab_size = vocab_size
        self.embed = input_layer(dim, vocab_size, dim_in)
        fast = _mamba_ssm_block(dim, d_state, d_conv, expand, device) if implementation != "minrnn" else None
        if implementation == "mamba_ssm" and fast is None:
            raise ValueError("Mamba implementation=mamba_ssm needs a CUDA device and `pip install mamba-ssm`")
        self.implementation = "mamba_ssm" if fast is not None else "minrnn scan (pure PyTorch)"
        if fast is not None:
            self.mixers = nn.ModuleList(
                [fast, *(_mamba_ssm_block(dim, d_state, d_conv, expand, device) for _ in range(depth - 1))]
            )
            for i, mixer in enumerate(self.mixers):
                mixer.block.layer_idx = i
        else:
            self.mixers = nn.ModuleList(MambaMixer(dim, d_state, d_conv, expand) for _ in range(depth))
        self.norms = nn.ModuleList(RMSNorm(dim) for _ in range(depth))
        self.norm = RMSNorm(dim)
        self.head = nn.Linear(dim, dim_out, bias=False)

    constant_state = True  # step() carries a state of fixed size, with either implementation

    def forward(self, x: torch.Tensor, state: list | None = None, return_state: bool = False):
        """Parallel mode; with return_state, also the per-layer state for ``step``."""
        if state is not None:
            raise ValueError("Mamba's parallel mode starts from an empty state; continue with step")
        h = self.embed(x)
        states = []
        for norm, mixer in zip(self.norms, self.mixers, strict=True):
            y = mixer(norm(h), return_state=True) if return_state else mixer(norm(h))
            if return_state:
                y, s = y
                states.append(s)
            h = h + y
        logits = self.head(self.norm(h))
        return (logits, states) if return_state else logits

    def step(self, x_t: torch.Tensor, state: list | None = None):
        """Sequential mode: a constant-size state per layer."""
        h = self.embed(x_t)
        new = []
        for i, (norm, mixer) in enumerate(zip(self.norms, self.mixers, strict=True)):
            y, s = mixer.step(norm(h), None if state is None else state[i])
            h = h + y
            new.append(s)
        return self.head(self.norm(h)), new


__all__ = ["Mamba", "MambaMixer", "MambaSSMMixer", "selective_scan"]
