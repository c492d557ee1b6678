"""Shared check: changing inputs after position t must leave outputs up to t unchanged."""

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
