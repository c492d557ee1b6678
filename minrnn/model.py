"""A stacked sequence model: embedding (tokens) or input projection (vectors), N blocks, norm, head.

``forward`` runs the whole sequence in parallel mode; ``step`` runs one token in sequential mode
with a state of constant size; ``generate`` samples tokens, prefilling the prompt in parallel
mode and continuing with ``step``. ``forward(x, state, return_state=True)`` continues from a state,
so long inputs can also be processed chunk by chunk.
"""

from __future__ import annotations

import torch
from torch import nn

from minrnn import checks, decode
from minrnn.blocks import NORMS, Block, State
from minrnn.pretrained import Pretrained


def input_layer(dim: int, vocab_size: int | None, dim_in: int | None) -> nn.Module:
    """Token ids through an embedding (``vocab_size``) or vectors through a Linear (``dim_in``): one of the two."""
    if (vocab_size is None) == (dim_in is None):
        raise ValueError("give exactly one of vocab_size (token inputs) and dim_in (vector inputs)")
    return nn.Embedding(vocab_size, dim) if vocab_size is not None else nn.Linear(dim_in, dim)


class SequenceModel(nn.Module, Pretrained):
    """``vocab_size`` for token inputs (B, T) or ``dim_in`` for vector inputs (B, T, dim_in);
    outputs (B, T, dim_out). ``block`` holds the Block settings (rnn, expansion, conv, mlp, ...).
    ``save_pretrained(path, extra=None)`` / ``from_pretrained(path)``: config.json + model.safetensors,
    loadable with minrnn alone (minrnn.pretrained).
    """

    constant_state = True  # step() carries a state of fixed size (tasks pick step-mode rollouts by it)

    def __init__(
        self,
        *,
        dim: int,
        depth: int,
        dim_out: int,
        vocab_size: int | None = None,
        dim_in: int | None = None,
        block: dict | None = None,
        norm: str = "rms",
    ):
        super().__init__()
        if depth < 1 or dim < 1 or dim_out < 1:
            raise ValueError(f"depth, dim and dim_out must be positive, got {depth}, {dim}, {dim_out}")
        # the constructor's arguments: what save_pretrained writes and from_pretrained builds from (JSON)
        self.config = {"dim": dim, "depth": depth, "dim_out": dim_out, "vocab_size": vocab_size, "dim_in": dim_in}
        self.config |= {"block": dict(block or {}), "norm": norm}
        self.vocab_size = vocab_size
        self.embed = input_layer(dim, vocab_size, dim_in)
        self.blocks = nn.ModuleList(Block(dim, norm=norm, **(block or {})) for _ in range(depth))
        self.norm = NORMS[norm](dim)
        self.head = nn.Linear(dim, dim_out, bias=False)

    def _embed(self, x: torch.Tensor, step: bool) -> torch.Tensor:
        checks.model_input(self, x, step)
        return self.embed(x)

    def forward(
        self,
        x: torch.Tensor,
        state: list[State] | None = None,
        return_state: bool = False,
        resets: torch.Tensor | None = None,
    ):
        """Parallel mode: logits (B, T, dim_out); with return_state, also the state after x. ``resets``
        (B, T) bool: True where a new sequence starts (packed sequences: minrnn.resets.resets_from_cu_seqlens)."""
        h = self._embed(x, step=False)
        new_state = []
        for i, block in enumerate(self.blocks):
            h, s = block(h, state[i] if state is not None else None, resets)
            new_state.append(s)
        logits = self.head(self.norm(h))
        return (logits, new_state) if return_state else logits

    def step(
        self, x_t: torch.Tensor, state: list[State] | None = None, reset: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[State]]:
        """Sequential mode: one token (B,) or vector (B, dim_in) -> (logits (B, dim_out), new state);
        ``reset`` (B,) bool: rows where a new sequence starts at this token."""
        h = self._embed(x_t, step=True)
        new_state = []
        for i, block in enumerate(self.blocks):
            h, s = block.step(h, state[i] if state is not None else None, reset)
            new_state.append(s)
        return self.head(self.norm(h)), new_state

    @torch.no_grad()
    def generate(
        self,
        prompt: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        top_p: float | None = None,
        fast_step: bool = True,
    ) -> torch.Tensor:
        """Sample max_new_tokens after prompt (B, T0); returns (B, T0 + max_new_tokens).

        Memory per token is constant: the prompt is prefilled in parallel mode, then only the
        per-block state (conv inputs and RNN state) is carried. temperature 0 means greedy; else
        temperature, top_k, then top_p (nucleus) in transformers' order, so with the same seed its
        ``generate`` draws the same tokens (minrnn.hf, tests/test_hf.py). ``fast_step``: steps run
        through minrnn.decode.Decoder where it applies (CPU or CUDA, float32/64, eval mode), else ``step``.
        """
        checks.generation(self, prompt, max_new_tokens, temperature, top_k, top_p)
        logits, state = self(prompt, return_state=True)
        logits = logits[:, -1]
        decoder = None
        if fast_step and prompt.shape[0] > 0 and decode.problem(self) is None:  # a decoder has rows
            decoder = decode.Decoder(self, prompt.shape[0])
            decoder.load(state)
        out = [prompt]
        for i in range(max_new_tokens):
            nxt = sample(logits, temperature, top_k, generator, top_p)
            out.append(nxt.unsqueeze(1))
            if i + 1 == max_new_tokens:
                break  # the logits after the last token are not needed
            if decoder is not None:
                logits = decoder.step(nxt)
            else:
                logits, state = self.step(nxt, state)
        return torch.cat(out, dim=1)


def sample(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """One token per row from logits (B, V): greedy at temperature 0, else softmax(logits / T) over the
    top k, then over the smallest set of tokens whose probability reaches top_p (nucleus sampling)."""
    if temperature == 0:
        return logits.argmax(-1)
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:  # drop the least likely tokens whose total stays within 1 - top_p
        ascending, order = torch.sort(logits, descending=False)
        drop = ascending.softmax(-1).cumsum(-1) <= 1 - top_p
        drop[:, -1] = False  # the most likely token always stays
        logits = logits.masked_fill(drop.scatter(1, order, drop), float("-inf"))
    return torch.multinomial(torch.softmax(logits.float(), -1), 1, generator=generator).squeeze(1)
