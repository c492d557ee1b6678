"""Save and load (minrnn.pretrained): every minrnn module and a user's module holding one round-trip to
identical outputs; a planted or damaged folder is one clear error and builds nothing it names."""

from __future__ import annotations

import json
import struct

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils._pytree import tree_leaves

import minrnn
from minrnn import Block, CausalConv1d, MinGRU, MinLSTM, SequenceModel, load_pretrained, save_pretrained
from minrnn.pretrained import WEIGHTS

LAYERS = [
    *(
        (MinGRU, dict(log_space=log_space, bias=bias, init_hidden_state=init))
        for log_space in (True, False)
        for bias in (True, False)
        for init in (True, False)
    ),
    *(
        (MinLSTM, dict(log_space=log_space, normalize_gates=norm, init_hidden_state=init, forget_bias=1.5))
        for log_space in (True, False)
        for norm in (True, False)
        for init in (True, False)
    ),
    (MinLSTM, dict(bias=False, forget_bias=0.0)),
    (MinGRU, dict(scan="sequential", log_chunk=8)),
]


def perturbed(module: nn.Module) -> nn.Module:
    """Weights unlike a fresh module's, so a load that silently kept the fresh ones would show."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return module.eval()


@pytest.mark.parametrize("cls,kwargs", LAYERS, ids=lambda v: str(v) if isinstance(v, dict) else v.__name__)
def test_every_layer_variant_round_trips_to_identical_outputs(tmp_path, cls, kwargs):
    torch.manual_seed(0)
    layer = perturbed(cls(5, 7, **kwargs))
    save_pretrained(layer, tmp_path / "m")
    back = load_pretrained(tmp_path / "m")
    assert type(back) is cls and not back.training
    x = torch.randn(2, 9, 5)
    assert torch.equal(back(x), layer(x))
    assert torch.equal(back.step(x[:, 0], layer(x)[:, -1]), layer.step(x[:, 0], layer(x)[:, -1]))
    assert (back.log_space, back.scan, back.log_chunk) == (layer.log_space, layer.scan, layer.log_chunk)


def test_blocks_conv_and_models_round_trip_and_keep_extra(tmp_path):
    torch.manual_seed(1)
    block = perturbed(Block(6, rnn="minlstm", expansion=1.5, conv=True, mlp=True, norm="layer"))
    conv = perturbed(CausalConv1d(6, 3))
    model = perturbed(SequenceModel(dim=6, depth=2, dim_out=4, dim_in=3, block=dict(conv=True, mlp=True)))
    x, v = torch.randn(2, 8, 6), torch.randn(2, 8, 3)
    for module, args in ((block, (x,)), (conv, (x,)), (model, (v,))):
        save_pretrained(module, tmp_path / type(module).__name__, extra={"note": "hi"})
        back = load_pretrained(tmp_path / type(module).__name__)
        assert type(back) is type(module) and back.extra == {"note": "hi"}
        out, got = tree_leaves(module(*args)), tree_leaves(back(*args))  # outputs and states
        assert len(out) == len(got) and all(torch.equal(a, b) for a, b in zip(out, got, strict=True))
    # the mixin's methods are the same functions; a folder of another class is refused by them
    assert torch.equal(Block.from_pretrained(tmp_path / "Block")(x)[0], block(x)[0])
    with pytest.raises(ValueError, match="holds a Block, not a SequenceModel"):
        SequenceModel.from_pretrained(tmp_path / "Block")


class Tagger(nn.Module):
    """A user's model holding a MinGRU; it records its own config."""

    def __init__(self, vocab: int, dim: int):
        super().__init__()
        self.config = {"vocab": vocab, "dim": dim}
        self.embed = nn.Embedding(vocab, dim)
        self.rnn = MinGRU(dim, dim)
        self.out = nn.Linear(dim, 2)

    def forward(self, tokens):
        return self.out(self.rnn(self.embed(tokens)))


class Bare(nn.Module):
    """A user's model without a config: loaded into an instance the user builds."""

    def __init__(self):
        super().__init__()
        self.rnn = MinLSTM(3, 4)


def test_a_users_module_holding_a_mingru_round_trips(tmp_path):
    torch.manual_seed(2)
    model = perturbed(Tagger(10, 6))
    save_pretrained(model, tmp_path / "t")
    tokens = torch.randint(0, 10, (2, 7))
    back = load_pretrained(tmp_path / "t", cls=Tagger)
    assert torch.equal(back(tokens), model(tokens))
    into = load_pretrained(tmp_path / "t", into=Tagger(10, 6))
    assert torch.equal(into(tokens), model(tokens))
    with pytest.raises(ValueError, match=r"names class '.*Tagger', which is not one of minrnn's own.*cls="):
        load_pretrained(tmp_path / "t")  # the file's class name is never imported
    with pytest.raises(ValueError, match="holds a .*Tagger, not a Bare"):
        load_pretrained(tmp_path / "t", cls=Bare)
    bare = perturbed(Bare())
    save_pretrained(bare, tmp_path / "b")
    x = torch.randn(1, 5, 3)
    assert torch.equal(load_pretrained(tmp_path / "b", into=Bare()).rnn(x), bare.rnn(x))
    with pytest.raises(ValueError, match="holds no config for Bare: pass into="):
        load_pretrained(tmp_path / "b", cls=Bare)


def test_a_failed_save_keeps_the_old_model(tmp_path):
    layer = MinGRU(3, 4)
    save_pretrained(layer, tmp_path / "m")
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}
    with pytest.raises(ValueError, match="not JSON"):
        save_pretrained(MinGRU(3, 5), tmp_path / "m", extra={"x": object()})
    assert {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary folder left


def edit_config(folder, change):
    path = folder / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def test_planted_configs_build_nothing_they_name(tmp_path):
    marker = tmp_path / "ran"
    save_pretrained(SequenceModel(dim=4, depth=1, vocab_size=3, dim_out=3), tmp_path / "m")
    command = f"touch {marker}"
    cases = {
        "os.system as the class": (
            lambda c: c.update({"format": "minrnn.Module/2", "class": "os.system", "config": {"command": command}}),
            "names class 'os.system', which is not one of minrnn's own",
        ),
        "an unknown class": (lambda c: c.update({"format": "minrnn.Popen/2"}), "'minrnn.Popen', which is not"),
        "a dotted format": (lambda c: c.update({"format": "minrnn.os.system/2"}), "is not a saved minrnn model"),
        "os.system as the rnn": (
            lambda c: c["config"]["block"].update({"rnn": "os.system"}),
            "names rnn 'os.system', which is not one of minrnn's own layers",
        ),
        "a minrnn function as the rnn": (
            lambda c: c["config"]["block"].update({"rnn": "minrnn.files.write_text"}),
            "names rnn 'minrnn.files.write_text'",
        ),
        "an argument the class does not take": (
            lambda c: c["config"].update({"command": command}),
            "SequenceModel takes no argument 'command'",
        ),
        "a newer format": (lambda c: c.update({"format": "minrnn.SequenceModel/3"}), r"version 3\) .*newer minrnn"),
        "an older layer format": (lambda c: c.update({"format": "minrnn.MinGRU/1"}), r"version 1\) .*cannot|migrate"),
        "a config that is not an object": (lambda c: c.update({"config": [1, 2]}), "must be JSON objects"),
    }
    for what, (change, message) in cases.items():
        save_pretrained(SequenceModel(dim=4, depth=1, vocab_size=3, dim_out=3), tmp_path / "m")
        edit_config(tmp_path / "m", change)
        with pytest.raises(ValueError, match=message) as e:
            load_pretrained(tmp_path / "m")
        assert "config.json" in str(e.value), what
        assert not marker.exists(), what


def test_version_1_folders_migrate(tmp_path):
    torch.manual_seed(3)
    model = perturbed(SequenceModel(dim=4, depth=1, vocab_size=5, dim_out=5))
    save_pretrained(model, tmp_path / "m", extra={"vocabulary": "abcde"})
    edit_config(tmp_path / "m", lambda c: (c.update({"format": "minrnn.SequenceModel/1"}), c.pop("weights")))
    back = SequenceModel.from_pretrained(tmp_path / "m")
    x = torch.randint(0, 5, (1, 6))
    assert torch.equal(back(x), model(x)) and back.extra == {"vocabulary": "abcde"}


def header_file(path, header: dict, body: bytes = b""):
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)


def test_damaged_weights_are_one_message_before_anything_is_allocated(tmp_path):
    def fresh():
        save_pretrained(MinGRU(3, 4), tmp_path / "m")
        return tmp_path / "m" / WEIGHTS

    weights = fresh()
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"model.safetensors is \d+ bytes, config.json says \d+: truncated"):
        load_pretrained(tmp_path / "m")
    edit_config(tmp_path / "m", lambda c: c["weights"].pop("bytes"))  # no size to check it by: the header does
    with pytest.raises(ValueError, match="lie outside the .* bytes of data"):
        load_pretrained(tmp_path / "m")

    huge = {"linear_z.weight": {"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 4 * 10**12]}}
    for header, message in (
        (huge, r"bytes \[0, 4000000000000\) lie outside"),
        ({**huge, "linear_z.weight": {**huge["linear_z.weight"], "data_offsets": [0, 16]}}, "needs 4000000000000 by"),
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            "overlap",
        ),
        ({"a": {"dtype": "EVIL", "shape": [1], "data_offsets": [0, 4]}}, "unknown dtype"),
    ):
        fresh()
        header_file(weights, header, b"\0" * 16)
        edit_config(tmp_path / "m", lambda c: c["weights"].pop("bytes"))
        with pytest.raises(ValueError, match=message):
            load_pretrained(tmp_path / "m")
    fresh()
    weights.write_bytes(struct.pack("<Q", 10**15))
    edit_config(tmp_path / "m", lambda c: c["weights"].pop("bytes"))
    with pytest.raises(ValueError, match="header length 1000000000000000 out of range"):
        load_pretrained(tmp_path / "m")


def test_links_out_of_the_folder_and_wrong_shapes_are_refused(tmp_path):
    save_pretrained(MinGRU(3, 4), tmp_path / "m")
    save_pretrained(MinGRU(3, 5), tmp_path / "other")
    weights = tmp_path / "m" / WEIGHTS
    weights.unlink()
    weights.symlink_to(tmp_path / "other" / WEIGHTS)
    with pytest.raises(ValueError, match="model.safetensors is a link out of its folder"):
        load_pretrained(tmp_path / "m")
    save_pretrained(MinGRU(3, 4), tmp_path / "m")
    edit_config(tmp_path / "m", lambda c: c["config"].update({"dim_hidden": 6}))
    with pytest.raises(
        ValueError, match=r"linear_z.weight is F32 \[4, 3\], the module's is F32 \[6, 3\] \(its config does not fit"
    ):
        load_pretrained(tmp_path / "m")
    edit_config(tmp_path / "m", lambda c: c["config"].update({"dim_hidden": 4, "bias": False}))
    with pytest.raises(ValueError, match="has 'linear_h.bias', which the module does not"):
        load_pretrained(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text("[" * 100_000)
    with pytest.raises(ValueError, match="config.json: JSON nested deeper than"):
        load_pretrained(tmp_path / "m")


def test_without_the_safetensors_package_the_fallback_reads_the_same(tmp_path, monkeypatch):
    torch.manual_seed(4)
    layer = perturbed(MinLSTM(3, 4))
    save_pretrained(layer, tmp_path / "m")
    monkeypatch.setitem(__import__("sys").modules, "safetensors", None)  # import safetensors now fails
    monkeypatch.setitem(__import__("sys").modules, "safetensors.torch", None)
    back = load_pretrained(tmp_path / "m")
    save_pretrained(back, tmp_path / "again")
    x = torch.randn(2, 5, 3)
    assert torch.equal(load_pretrained(tmp_path / "again")(x), layer(x))
    assert minrnn.save_pretrained is save_pretrained


@pytest.mark.parametrize("sizes", [{"dim": 10**7, "vocab_size": 10**6}, {"dim": 10**5}, {"depth": 40}])
def test_a_config_whose_sizes_do_not_fit_its_weights_allocates_nothing(tmp_path, sizes):
    """The sizes in config.json are checked against the weights' header on the meta device first: a lie
    is one ValueError, never an allocator error or gigabytes taken (a malicious user's attack)."""
    model = SequenceModel(dim=8, depth=1, vocab_size=11, dim_out=11, block={"rnn": "mingru"})
    folder = save_pretrained(model, tmp_path / "m")
    saved = json.loads((folder / "config.json").read_text())
    saved["config"].update(sizes)
    (folder / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="does not fit these weights|lacks|has "):
        load_pretrained(folder)


@pytest.mark.parametrize("named", ["torch.nn.Linear", "os.system", "minrnn.layers.MinLSTM", 3])
def test_a_class_field_that_names_another_class_is_refused(tmp_path, named):
    folder = save_pretrained(MinGRU(4, 6), tmp_path / "m")
    saved = json.loads((folder / "config.json").read_text())
    saved["class"] = named
    (folder / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="not built|not a"):
        load_pretrained(folder)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_saved_weights_of_another_width_are_named_before_anything_is_loaded(data):
    """Every load of saved weights (a safetensors file, a checkpoint, a wrapped model) compares each
    tensor's shape with the model's first: the first misfit is named in one line, no torch report."""
    from minrnn.pretrained import load_state

    depth, dim = data.draw(st.integers(1, 2)), data.draw(st.sampled_from([4, 8]))
    rnn = data.draw(st.sampled_from(["mingru", "minlstm"]))
    model = SequenceModel(vocab_size=7, dim=dim, depth=depth, dim_out=7, block={"rnn": rnn})
    state = model.state_dict()
    names = list(state)
    name = data.draw(st.sampled_from(names))
    shape = list(state[name].shape)
    axis = data.draw(st.integers(0, len(shape) - 1))
    shape[axis] += data.draw(st.integers(1, 5))
    before = {k: v.clone() for k, v in state.items()}
    bad = {**state, name: torch.zeros(shape)}
    if data.draw(st.booleans()):  # or a projection swapped with one of another shape
        other = data.draw(st.sampled_from([n for n in names if state[n].shape != state[name].shape] or [name]))
        if other != name:
            bad = {**state, name: state[other].clone(), other: state[name].clone()}
    first = next(n for n in names if bad[n].shape != state[n].shape)
    with pytest.raises(ValueError) as e:
        load_state(model, bad, "x.pt")
    text = str(e.value)
    assert text.startswith(f"x.pt: {first} is {list(bad[first].shape)}, the model's is {list(state[first].shape)}")
    assert "\n" not in text and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
