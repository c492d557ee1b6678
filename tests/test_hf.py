"""Hugging Face interop (minrnn.hf, the [hf] extra, in [dev]): transformers' own generate gives the tokens
SequenceModel.generate gives, greedy and sampled with the same seed; the Hub mixin saves, pushes and loads
minrnn's folders offline (a local folder stands in for the Hub)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import huggingface_hub.hub_mixin
import pytest
import safetensors.torch
import torch
from huggingface_hub import HfApi
from torch import nn
from transformers import AutoModelForCausalLM
from transformers.generation.streamers import BaseStreamer

import minrnn
from minrnn import hf, pretrained
from minrnn.pretrained import WEIGHTS
from minrnn.pretrained import load_state as real_load


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    seq = minrnn.SequenceModel(dim=16, depth=2, vocab_size=13, dim_out=13, block=dict(conv=True, mlp=True)).eval()
    with torch.no_grad():
        seq.head.weight.mul_(4)  # peaked enough that top_p and top_k cut something
    return seq, hf.MinRNNForCausalLM.from_sequence_model(seq, pad_token_id=12)


PROMPT = torch.tensor([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]])


def test_greedy_generate_equals_sequencemodel_generate(pair):
    seq, lm = pair
    out = lm.generate(PROMPT, max_new_tokens=20, do_sample=False)
    assert torch.equal(out, seq.generate(PROMPT, 20, temperature=0))


@pytest.mark.parametrize(
    "settings", [dict(temperature=1.0), dict(temperature=0.7, top_k=4), dict(temperature=1.3, top_p=0.8),
                 dict(temperature=0.9, top_k=6, top_p=0.7)]
)  # fmt: skip
def test_seeded_sampling_draws_the_same_tokens(pair, settings):
    seq, lm = pair
    for seed in range(3):
        torch.manual_seed(seed)
        ours = seq.generate(PROMPT, 16, **settings)
        torch.manual_seed(seed)
        theirs = lm.generate(PROMPT, max_new_tokens=16, do_sample=True, **{"top_k": 0, **settings})  # 0: off
        assert torch.equal(theirs, ours), (seed, settings)


def test_top_p_and_top_k_cut_as_transformers_processors_do(pair):
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    logits = torch.randn(4, 50) * 3
    processed = TopPLogitsWarper(0.6)(None, TopKLogitsWarper(10)(None, TemperatureLogitsWarper(0.8)(None, logits)))
    for seed in range(5):
        torch.manual_seed(seed)
        expected = torch.multinomial(processed.softmax(-1), 1).squeeze(1)
        torch.manual_seed(seed)
        assert torch.equal(minrnn.model.sample(logits, 0.8, 10, None, 0.6), expected)


def test_eos_and_a_streamer(pair):
    seq, lm = pair
    prompt = PROMPT[:1]
    ours = seq.generate(prompt, 20, temperature=0)[0, 5:].tolist()
    eos = ours[3]
    got = lm.generate(prompt, max_new_tokens=20, do_sample=False, eos_token_id=eos)
    assert got[0, 5:].tolist() == ours[: ours.index(eos) + 1]  # stops at the first eos, as asked

    class Collect(BaseStreamer):
        def __init__(self):
            self.seen, self.ended = [], False

        def put(self, value):
            self.seen.append(value.flatten().tolist())

        def end(self):
            self.ended = True

    streamer = Collect()
    out = lm.generate(prompt, max_new_tokens=8, do_sample=False, streamer=streamer)
    assert streamer.seen[0] == prompt[0].tolist() and sum(streamer.seen[1:], []) == out[0, 5:].tolist()
    assert streamer.ended and out[0, 5:].tolist() == ours[:8]


def test_the_causal_lm_saves_and_loads_through_transformers_auto_classes(pair, tmp_path):
    seq, lm = pair
    lm.save_pretrained(tmp_path / "lm")
    back = AutoModelForCausalLM.from_pretrained(tmp_path / "lm")
    assert type(back) is hf.MinRNNForCausalLM
    assert torch.equal(back(PROMPT).logits, seq(PROMPT).float())
    loss = back(PROMPT, labels=PROMPT).loss
    expected = nn.functional.cross_entropy(seq(PROMPT)[:, :-1].flatten(0, 1), PROMPT[:, 1:].flatten())
    torch.testing.assert_close(loss, expected, rtol=0, atol=1e-6)


def test_the_causal_lm_loads_its_weights_through_minrnn_pretrained(pair, tmp_path, monkeypatch):
    """from_pretrained (and AutoModelForCausalLM's) loads through minrnn.pretrained.load_state, with the
    saved generation settings, a dtype and a config keyword as transformers takes them."""
    seq, lm = pair
    lm.save_pretrained(tmp_path / "lm")
    loads = []

    def load_state(module, state, where):
        loads.append(where)
        return real_load(module, state, where)

    monkeypatch.setattr(pretrained, "load_state", load_state)
    back = AutoModelForCausalLM.from_pretrained(tmp_path / "lm", dtype=torch.float64)
    assert loads == [tmp_path / "lm" / WEIGHTS] and not back.training
    assert back.generation_config.pad_token_id == 12 and next(back.parameters()).dtype == torch.float64
    torch.testing.assert_close(back(PROMPT).logits, seq(PROMPT).float(), rtol=1e-5, atol=1e-5)
    assert hf.MinRNNForCausalLM.from_pretrained(tmp_path / "lm", pad_token_id=7).config.pad_token_id == 7
    with pytest.raises(TypeError, match="takes no argument 'no_such_setting'"):
        hf.MinRNNForCausalLM.from_pretrained(tmp_path / "lm", no_such_setting=1)
    offline_hub(monkeypatch, tmp_path / "hub")
    HfApi().upload_folder(repo_id="me/lm", folder_path=tmp_path / "lm")
    pulled = hf.MinRNNForCausalLM.from_pretrained("me/lm")
    assert torch.equal(pulled(PROMPT).logits, seq(PROMPT).float()) and len(loads) == 3


@pytest.mark.parametrize("entry", [AutoModelForCausalLM.from_pretrained, hf.MinRNNForCausalLM.from_pretrained])
def test_a_wrong_shape_tensor_is_one_message_through_transformers_entry_points(pair, tmp_path, entry):
    _, lm = pair
    lm.save_pretrained(tmp_path / "lm")
    tensors = safetensors.torch.load_file(tmp_path / "lm" / WEIGHTS)
    tensors["model.head.weight"] = tensors["model.head.weight"][:-1].clone()  # 12 outputs for 13 tokens
    safetensors.torch.save_file(tensors, tmp_path / "lm" / WEIGHTS, metadata={"format": "pt"})
    with pytest.raises(ValueError) as e:
        entry(tmp_path / "lm")
    assert str(e.value) == (
        f"{tmp_path / 'lm' / WEIGHTS}: model.head.weight is F32 [12, 16], the module's is F32 [13, 16] "
        "(its config does not fit these weights)"
    )


class Tagger(nn.Module, hf.HubMixin):
    """A user's module holding a MinGRU, with no config of its own: the mixin records its arguments."""

    def __init__(self, vocab: int = 10, dim: int = 6):
        super().__init__()
        self.embed, self.rnn, self.out = nn.Embedding(vocab, dim), minrnn.MinGRU(dim, dim), nn.Linear(dim, 2)

    def forward(self, tokens):
        return self.out(self.rnn(self.embed(tokens)))


def offline_hub(monkeypatch, hub: Path):
    """push_to_hub and downloads against a local folder laid out as the Hub's cache (snapshots linking
    into blobs/): nothing leaves this machine."""
    from huggingface_hub import HfApi

    def upload_folder(self, *, repo_id, folder_path, **kw):
        repo = hub / f"models--{repo_id.replace('/', '--')}"
        for f in Path(folder_path).iterdir():
            (repo / "blobs").mkdir(parents=True, exist_ok=True)
            shutil.copy(f, repo / "blobs" / f.name)
            link = repo / "snapshots/main" / f.name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.unlink(missing_ok=True)
            link.symlink_to(Path("../../blobs") / f.name)
        return f"offline://{repo_id}"

    def download(*, repo_id, filename, **kw):
        return str(hub / f"models--{repo_id.replace('/', '--')}" / "snapshots/main" / filename)

    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: type("R", (), {"repo_id": repo_id})())
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    monkeypatch.setattr(hf, "hf_hub_download", download)
    monkeypatch.setattr(huggingface_hub.hub_mixin, "hf_hub_download", download)  # the mixin's read of config.json


def test_the_hub_mixin_saves_pushes_and_loads_minrnn_folders_offline(tmp_path, monkeypatch):
    torch.manual_seed(1)
    layer = hf.MinGRU(5, 7, init_hidden_state=True).eval()
    layer.save_pretrained(tmp_path / "layer")
    assert (tmp_path / "layer/README.md").exists()  # the mixin's model card beside minrnn's files
    x = torch.randn(2, 9, 5)
    back = hf.MinGRU.from_pretrained(tmp_path / "layer")
    assert type(back) is hf.MinGRU and torch.equal(back(x), layer(x))
    plain = minrnn.load_pretrained(tmp_path / "layer")  # the same format: minrnn alone reads it
    assert type(plain) is minrnn.MinGRU and torch.equal(plain(x), layer(x))

    model = Tagger(10, 6).eval()
    tokens = torch.randint(0, 10, (2, 7))
    offline_hub(monkeypatch, tmp_path / "hub")
    assert model.push_to_hub("me/tagger") == "offline://me/tagger"
    pulled = Tagger.from_pretrained("me/tagger")
    assert torch.equal(pulled(tokens), model(tokens))
    seq = hf.SequenceModel(dim=8, depth=1, vocab_size=5, dim_out=5).eval()
    seq.push_to_hub("me/seq")
    assert torch.equal(hf.SequenceModel.from_pretrained("me/seq")(tokens % 5), seq(tokens % 5))
    # the same checks as a local load: a planted link out of the repo's cache is refused
    blob = tmp_path / "hub/models--me--seq/blobs" / WEIGHTS
    blob.unlink()
    blob.symlink_to(tmp_path / "layer" / WEIGHTS)
    with pytest.raises(ValueError, match="model.safetensors is a link out of its folder"):
        hf.SequenceModel.from_pretrained("me/seq")


def test_import_minrnn_imports_neither_transformers_nor_the_hub():
    code = "import sys, minrnn; print([m for m in ('transformers', 'huggingface_hub') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", env=os.environ)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
