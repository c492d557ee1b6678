"""Hugging Face interop (``pip install "minrnn[hf]"``; ``import minrnn`` never imports this module).

- **Hub**: ``minrnn.hf.MinGRU``, ``MinLSTM``, ``Block``, ``SequenceModel`` are minrnn's modules with
  huggingface_hub's ``PyTorchModelHubMixin``: ``save_pretrained(folder)``, ``push_to_hub(repo_id)``,
  ``from_pretrained(folder or repo_id)``, in minrnn's own folder format (minrnn.pretrained: the same
  checks on load). A module of your own mixes in ``HubMixin`` the same way.
- **transformers**: ``MinRNNForCausalLM`` wraps a token SequenceModel as a ``PreTrainedModel`` with
  ``GenerationMixin`` (``AutoModelForCausalLM`` knows its ``model_type`` "minrnn"), so
  ``model.generate(input_ids, do_sample=..., temperature=..., top_k=..., top_p=..., eos_token_id=...,
  streamer=...)`` runs transformers' own generation loop; the cache is the recurrent state
  (``MinRNNCache``): the prompt is prefilled in parallel mode, then one ``step`` per token, constant memory.
  Its ``from_pretrained`` (and AutoModelForCausalLM's) reads the files through minrnn.reader and loads
  the weights through minrnn.pretrained.load_weights: checked against the model before a tensor is read.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import torch
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    GenerationConfig,
    GenerationMixin,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.utils import ModelOutput

import minrnn
from minrnn import blocks, layers, model
from minrnn.pretrained import (
    CONFIG,
    MAX_CONFIG,
    WEIGHTS,
    config_of,
    load_pretrained,
    load_state,
    load_weights,
    save_pretrained,
)
from minrnn.reader import read_json


class HubMixin(
    PyTorchModelHubMixin,
    library_name="minrnn",
    repo_url="https://github.com/minrnn/minrnn",
    paper_url="https://arxiv.org/abs/2410.01201",
    tags=["minrnn", "mingru", "minlstm"],
):
    """PyTorchModelHubMixin whose files are minrnn's (config.json with a format version, model.safetensors)
    and whose loads go through minrnn.pretrained's checks. A user's module without a ``config`` is saved
    with the arguments the mixin recorded from its constructor."""

    def _save_pretrained(self, save_directory: Path) -> None:
        config = config_of(self)
        if config is None and isinstance(self._hub_mixin_config, dict):
            config = self._hub_mixin_config
        save_pretrained(self, save_directory, config=config)

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None = None,
        cache_dir: str | Path | None = None,
        force_download: bool = False,
        local_files_only: bool = False,
        token: str | bool | None = None,
        map_location: str = "cpu",
        strict: bool = True,
        **model_kwargs,
    ):
        if Path(model_id).is_dir():
            return load_pretrained(model_id, cls=cls, map_location=map_location)
        where = dict(repo_id=model_id, revision=revision, cache_dir=cache_dir, force_download=force_download)
        where |= dict(token=token, local_files_only=local_files_only)
        files = [Path(hf_hub_download(filename=name, **where)) for name in (CONFIG, WEIGHTS)]
        # the Hub's cache links each file of a snapshot to its blobs/ folder: contained in the repo's cache
        return load_pretrained(files[0].parent, cls=cls, map_location=map_location, root=files[0].parents[2])


class MinGRU(HubMixin, layers.MinGRU):
    """minrnn.MinGRU with the Hub mixin."""


class MinLSTM(HubMixin, layers.MinLSTM):
    """minrnn.MinLSTM with the Hub mixin."""


class Block(HubMixin, blocks.Block):
    """minrnn.Block with the Hub mixin."""


class SequenceModel(HubMixin, model.SequenceModel):
    """minrnn.SequenceModel with the Hub mixin."""


class MinRNNConfig(PretrainedConfig):
    """A token SequenceModel's settings as a transformers config (``model_type`` "minrnn")."""

    model_type = "minrnn"

    def __init__(self, vocab_size=256, dim=64, depth=2, block=None, norm="rms", **kwargs):
        self.vocab_size, self.dim, self.depth, self.block, self.norm = vocab_size, dim, depth, dict(block or {}), norm
        super().__init__(**kwargs)


class MinRNNCache:
    """The recurrent state as transformers' generation loop carries it: one (conv inputs, RNN state) per
    block, of constant size, and how many tokens it has seen."""

    is_compileable = False

    def __init__(self, state: list, seen: int):
        self.state, self.seen = state, seen

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.seen


@dataclass
class MinRNNOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    cache: MinRNNCache | None = None


GENERATION = "generation_config.json"  # save_pretrained's generation settings (pad_token_id, eos_token_id)
UNUSED = ("trust_remote_code", "adapter_kwargs", "code_revision")  # what AutoModel passes on, unset
HUB_KEYWORDS = ("revision", "cache_dir", "force_download", "local_files_only", "token", "subfolder", "proxies")


class MinRNNForCausalLM(PreTrainedModel, GenerationMixin):
    """A token SequenceModel (``self.model``) as a transformers causal LM: ``forward(input_ids, cache=None,
    labels=None)``; one new token with a cache runs ``SequenceModel.step``, as SequenceModel.generate does."""

    config_class = MinRNNConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"

    def __init__(self, config: MinRNNConfig):
        super().__init__(config)
        self.model = minrnn.SequenceModel(
            dim=config.dim,
            depth=config.depth,
            dim_out=config.vocab_size,
            vocab_size=config.vocab_size,
            block=config.block,
            norm=config.norm,
        )
        self.post_init()

    @classmethod
    def from_sequence_model(cls, seq: minrnn.SequenceModel, **config) -> MinRNNForCausalLM:
        """Wrap a trained token SequenceModel (its weights copied) with any extra config (eos_token_id, ...)."""
        c = seq.config
        if c.get("vocab_size") is None or c["dim_out"] != c["vocab_size"]:
            raise ValueError("MinRNNForCausalLM wraps a token model whose outputs are its vocabulary")
        wrapped = cls(MinRNNConfig(c["vocab_size"], c["dim"], c["depth"], c["block"], c["norm"], **config))
        load_state(wrapped.model, seq.state_dict(), type(seq).__name__)
        return wrapped.to(next(seq.parameters()).device).eval()

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, config=None, **kwargs):
        """The model ``save_pretrained`` wrote to a folder (or a Hub repo id, downloaded), its files read
        through minrnn.reader and its weights through minrnn.pretrained.load_weights: each tensor's name,
        shape and dtype checked against the model before any is read, a mismatch one ValueError naming the
        file and the tensor (transformers' own loader reports it in a table, then a RuntimeError).
        ``dtype``: the dtype to cast to once loaded; a keyword that is a config attribute sets it."""
        if model_args:
            raise TypeError(f"{cls.__name__}.from_pretrained takes the folder (or repo id) and keywords only")
        where = {k: kwargs.pop(k) for k in HUB_KEYWORDS if k in kwargs}
        dtype = [kwargs.pop(k, None) for k in ("dtype", "torch_dtype")]
        dtype = next((d for d in dtype if d is not None), None)
        for key in [k for k in kwargs if k.startswith("_") or k in UNUSED and not kwargs[k]]:  # transformers' own
            kwargs.pop(key)
        folder, root = Path(pretrained_model_name_or_path), None
        if not folder.is_dir():  # a Hub repo id: its files downloaded (the Hub's cache links them into blobs/)
            where = {k: v for k, v in where.items() if v is not None and k != "proxies"}
            repo_id = str(pretrained_model_name_or_path)
            files = [Path(hf_hub_download(repo_id=repo_id, filename=name, **where)) for name in (CONFIG, WEIGHTS)]
            folder, root = files[0].parent, files[0].parents[2]
            with contextlib.suppress(EntryNotFoundError):  # optional: settings saved beside the config
                hf_hub_download(repo_id=repo_id, filename=GENERATION, **where)
        elif where.get("subfolder"):
            folder = folder / where["subfolder"]
        document = read_json(folder / CONFIG, max_bytes=MAX_CONFIG, folder=root)
        config = cls.config_class.from_dict(document) if config is None else config
        unknown = sorted(k for k in kwargs if not hasattr(config, k))
        if unknown:
            raise TypeError(f"{cls.__name__}.from_pretrained takes no argument {unknown[0]!r}")
        for key, value in kwargs.items():
            setattr(config, key, value)
        model = cls(config)
        saved = document.get("dtype") if isinstance(document, dict) else None  # the dtype it was saved in
        if isinstance(saved, str) and isinstance(getattr(torch, saved, None), torch.dtype):
            model.to(getattr(torch, saved))  # then cast to ``dtype`` once loaded
        load_weights(model, folder, {"weights": {"file": WEIGHTS}}, root)
        if (folder / GENERATION).exists():
            generation = read_json(folder / GENERATION, max_bytes=MAX_CONFIG, folder=root)
            model.generation_config = GenerationConfig.from_dict(generation)
        if isinstance(dtype, str) and dtype != "auto":
            dtype = getattr(torch, dtype)
        return (model.to(dtype) if isinstance(dtype, torch.dtype) else model).eval()

    def _init_weights(self, module):  # SequenceModel initialises its own layers (the paper's init)
        pass

    def get_input_embeddings(self):
        return self.model.embed

    def set_input_embeddings(self, value):
        self.model.embed = value

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        return False  # the cache is the recurrent state (MinRNNCache), made by forward

    def prepare_inputs_for_generation(self, input_ids, cache=None, use_cache=None, **kwargs):
        """Every token of input_ids is read (an attention mask is ignored: give prompts of one length, unpadded)."""
        if cache is not None:
            input_ids = input_ids[:, cache.seen :]
        return {"input_ids": input_ids, "cache": cache, "use_cache": use_cache}

    def forward(self, input_ids=None, cache=None, labels=None, use_cache=None, attention_mask=None, **kwargs):
        if cache is not None and input_ids.shape[1] == 1:
            logits, state = self.model.step(input_ids[:, 0], cache.state)
            logits = logits.unsqueeze(1)
        else:
            logits, state = self.model(input_ids, cache.state if cache is not None else None, return_state=True)
        loss = None
        if labels is not None:
            loss = torch.nn.functional.cross_entropy(
                logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=-100
            )
        seen = (cache.seen if cache is not None else 0) + input_ids.shape[1]
        new_cache = MinRNNCache(state, seen) if use_cache is not False else None
        return MinRNNOutput(loss=loss, logits=logits.float(), cache=new_cache)


AutoConfig.register("minrnn", MinRNNConfig, exist_ok=True)
AutoModelForCausalLM.register(MinRNNConfig, MinRNNForCausalLM, exist_ok=True)
