"""A GPT-style decoder baseline: pre-norm blocks of causal self-attention and a GELU MLP.

Attention is torch's scaled_dot_product_attention (flash/memory-efficient kernels where available).
Positions are rotary (RoPE, the default: no maximum length) or, as in nanoGPT (the framework the paper
trains Figure 2's Transformer with), a learned table of ``max_len`` absolute positions; ``tie_head``
ties the output head to the token embedding, as nanoGPT does. ``step`` decodes one token with a
key/value cache, whose memory grows with the context (the contrast with the RNNs' constant state).
Same constructor as minrnn.SequenceModel: dim, depth, dim_out, and vocab_size or dim_in.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from minrnn.model import input_layer


def rotate(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """RoPE on x (B, heads, T, head_dim) at integer positions pos (T,)."""
    half = x.shape[-1] // 2
    freq = 10000 ** (-torch.arange(half, device=x.device, dtype=torch.float32) / half)
    angle = pos.float()[:, None] * freq[None]  # (T, half)
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float, rope: bool = True):
        super().__init__()
        if dim % heads or (rope and (dim // heads) % 2):
            raise ValueError(f"Transformer: dim={dim} must be divisible by heads={heads} into an even head size")
        self.heads, self.dropout, self.rope = heads, dropout, rope
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, cache: tuple | None = None):
        """x (B, T, D); cache (k, v, n) or None: buffers (B, heads, capacity, head_dim) whose first n
        positions hold the earlier keys and values. Returns (y, new cache).

        New positions are written into the buffers, which double when full, so a token costs amortised
        O(1) copying rather than a copy of the whole cache. The positions past n are free: a cache is
        continued once (clone its buffers to branch from it)."""
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        start = 0 if cache is None else cache[2]
        pos = torch.arange(start, start + T, device=x.device)
        if self.rope:
            q, k = rotate(q, pos), rotate(k, pos)
        if cache is not None:
            kb, vb, n = cache
            if n + T > kb.shape[2]:
                grow = kb.new_empty(B, self.heads, max(kb.shape[2], T), D // self.heads)
                kb, vb = torch.cat([kb[:, :, :n], grow], 2), torch.cat([vb[:, :, :n], grow.clone()], 2)
            kb[:, :, n : n + T], vb[:, :, n : n + T] = k, v
            k, v = kb[:, :, : n + T], vb[:, :, : n + T]
        # causal within the new positions; every cached position is visible to all of them
        mask = None if cache is None else torch.ones(T, k.shape[2], dtype=torch.bool, device=x.device).tril(start)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=cache is None, dropout_p=self.dropout if self.training else 0.0
        )
        new = (k, v, start + T) if cache is None else (kb, vb, start + T)
        return self.out(y.transpose(1, 2).reshape(B, T, D)), new


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_mult: float, dropout: float, rope: bool = True):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, dropout, rope)
        hidden = int(dim * mlp_mult)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim), nn.Dropout(dropout))

    def forward(self, x, cache=None):
        a, cache = self.attn(self.norm1(x), cache)
        x = x + a
        return x + self.mlp(self.norm2(x)), cache


class Transformer(nn.Module):
    constant_state = False  # the KV cache grows with every token

    def __init__(
        self,
        *,
        dim: int,
        depth: int,
        dim_out: int,
        vocab_size: int | None = None,
        dim_in: int | None = None,
        heads: int = 4,
        mlp_mult: float = 4.0,
        dropout: float = 0.0,
        positions: str = "rope",
        max_len: int | None = None,
        tie_head: bool = False,
    ):
        super().__init__()
        if positions not in ("rope", "learned"):
            raise ValueError(f"Transformer: positions must be 'rope' or 'learned', got {positions!r}")
        if positions == "learned" and (not isinstance(max_len, int) or max_len < 1):
            raise ValueError(f"Transformer: learned positions need max_len >= 1, got {max_len!r}")
        if tie_head and (vocab_size is None or vocab_size != dim_out):
            raise ValueError("Transformer: tie_head needs token inputs with vocab_size == dim_out")
        self.vocab_size, self.max_len = vocab_size, max_len
        self.implementation = (
            f"torch scaled_dot_product_attention, {'RoPE' if positions == 'rope' else 'learned positions'}"
        )
        self.embed = input_layer(dim, vocab_size, dim_in)
        self.pos = nn.Embedding(max_len, dim) if positions == "learned" else None
        self.drop = nn.Dropout(dropout)
        rope = positions == "rope"
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, mlp_mult, dropout, rope) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, dim_out, bias=False)
        if tie_head:
            self.head.weight = self.embed.weight  # nanoGPT's weight tying

    def forward(self, x: torch.Tensor, state: list | None = None, return_state: bool = False):
        """Parallel mode over (B, T) tokens or (B, T, dim_in) vectors; state is the KV cache."""
        h = self.embed(x)
        if self.pos is not None:
            start = 0 if state is None else state[0][2]
            if start + x.shape[1] > self.max_len:
                raise ValueError(
                    f"Transformer: {start + x.shape[1]} positions, more than its learned max_len {self.max_len}"
                )
            h = h + self.pos(torch.arange(start, start + x.shape[1], device=h.device))
        h = self.drop(h)
        caches = []
        for i, block in enumerate(self.blocks):
            h, c = block(h, None if state is None else state[i])
            caches.append(c)
        logits = self.head(self.norm(h))
        return (logits, caches) if return_state else logits

    def step(self, x_t: torch.Tensor, state: list | None = None):
        """One token (B,) or vector (B, dim_in) -> (logits (B, dim_out), the grown KV cache)."""
        logits, caches = self(x_t.unsqueeze(1), state, return_state=True)
        return logits[:, 0], caches
