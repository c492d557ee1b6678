"""A scan backend added from outside the package, as docs/extending.md says (the module below is the
page's code block, written to a file and imported): MinGRU/MinLSTM run it, with resets, equal to
``sequential``; ``auto`` prefers it where it can run and warns once where it cannot."""

import importlib
import warnings
from pathlib import Path

import pytest
import torch
from doc_pages import page_files

from minrnn import MinGRU, MinLSTM, backends, resets_from_cu_seqlens

RECIPE = Path(__file__).resolve().parent.parent / "docs" / "extending.md"


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The recipe's module, imported from tmp_path; the table restored afterwards."""
    monkeypatch.setattr(backends, "BACKENDS", dict(backends.BACKENDS))
    monkeypatch.setattr(backends, "_AUTO", {k: list(v) for k, v in backends._AUTO.items()})
    monkeypatch.setattr(backends, "_RESOLVED", {})
    (tmp_path / "toy_backend.py").write_text(page_files(RECIPE)["my_backends/toy_backend.py"])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "toy_backend", raising=False)
    return importlib.import_module("toy_backend")


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
def test_a_backend_registered_outside_the_package_runs_the_layer_with_resets(toy, cls):
    torch.manual_seed(0)
    layer = cls(6, 8, init_hidden_state=True, scan="sequential").double()
    x = torch.randn(2, 23, 6, dtype=torch.float64, requires_grad=True)
    resets = torch.cat([resets_from_cu_seqlens([0, 9, 16, 23]), resets_from_cu_seqlens([0, 4, 23])])
    outs = {}
    for name in ("sequential", "toy"):
        layer.scan = name
        out, last = layer(x, resets=resets, return_state=True)
        outs[name] = (out, last, *torch.autograd.grad((out * out.detach().cos()).sum(), [x, *layer.parameters()]))
    assert toy.calls == [(2, 23, 8)]  # one call, on the layer's coefficients
    for got, want in zip(outs["toy"], outs["sequential"], strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    layer.scan = "toy"
    without_resets = layer(x)
    assert len(toy.calls) == 2  # without resets too: a backend without a fused gate scan runs its generic scan
    layer.scan = "sequential"
    torch.testing.assert_close(without_resets, layer(x), rtol=0, atol=1e-12)


def test_auto_prefers_a_registered_backend_and_warns_once_when_it_cannot_run(toy):
    backends.register_backend("toy", toy.toy_scan, unavailable=lambda device: "it is a toy", auto=("cpu",))
    with pytest.warns(RuntimeWarning, match="on cpu uses 'cpu': 'toy' cannot run there \\(it is a toy\\)"):
        assert backends.resolve("auto", torch.device("cpu")) == "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert backends.resolve("auto", torch.device("cpu")) == "cpu"
    backends.register_backend("toy", toy.toy_scan, auto=("cpu",))
    MinGRU(3, 4)(torch.randn(1, 5, 3))
    assert toy.calls == [(1, 5, 4)]


def test_unknown_and_reserved_names_are_one_message():
    with pytest.raises(ValueError, match="unknown scan backend 'fast'; choose one of auto, sequential, log"):
        MinGRU(3, 4, scan="fast")
    with pytest.raises(ValueError, match="'auto' is not a backend"):
        backends.register_backend("auto", lambda a, b, h0=None: a)
