"""Checks shared by the tests: causality, and step mode against parallel mode."""

import torch


def assert_causal(fn, x: torch.Tensor, t: int) -> None:
    """fn maps (B, T, ...) to (B, T, ...); x's positions after t are replaced with fresh values."""
    y = fn(x)
    x2 = x.clone()
    x2[:, t + 1 :] = (
        torch.randint_like(x2[:, t + 1 :], 0, 5) if not x.is_floating_point() else torch.randn_like(x2[:, t + 1 :])
    )
    y2 = fn(x2)
    assert torch.equal(y[:, : t + 1], y2[:, : t + 1]), "outputs up to t changed when only later inputs changed"
    assert not torch.equal(y[:, t + 1 :], y2[:, t + 1 :]), "later outputs ignored later inputs (test is vacuous)"


def assert_block_steps_and_chunks(block, x: torch.Tensor, cut: int) -> None:
    """A block's step mode, and a forward split at `cut` with the state carried, equal its forward."""
    full, _ = block(x)
    state, steps = None, []
    for x_t in x.unbind(1):
        y, state = block.step(x_t, state)
        steps.append(y)
    torch.testing.assert_close(torch.stack(steps, 1), full, rtol=0, atol=1e-12)
    first, s = block(x[:, :cut])
    rest, _ = block(x[:, cut:], s)
    torch.testing.assert_close(torch.cat([first, rest], 1), full, rtol=0, atol=1e-12)
