"""Save and load any minrnn module, or a user's module holding them: a folder with ``config.json``
(the class, its constructor's arguments, a format version) and ``model.safetensors`` (the weights).

    minrnn.save_pretrained(layer, "my-layer")             # MinGRU, MinLSTM, Block, CausalConv1d, SequenceModel
    layer = minrnn.load_pretrained("my-layer")            # built from config.json: minrnn's own classes only
    minrnn.save_pretrained(mine, "mine")                  # a user's module: its ``config`` (if it has one)
    mine = minrnn.load_pretrained("mine", cls=MyModel)    # MyModel(**config), then the weights
    minrnn.load_pretrained("mine", into=MyModel(...))     # or the weights into an instance you built

A folder is data, never code: the class is looked up in an allow-list of minrnn's own (a user's class
is one the caller passes), every argument is checked against the constructor's signature, the weights'
header (sizes, shapes, dtypes) is checked against the file and the module before anything is
allocated, and a file that is a link out of the folder is refused. The weights load memory-mapped with
the ``safetensors`` package (minrnn.safetensors_io where it is absent). Saves go through
minrnn.files.replace_dir: a save that fails halfway keeps the model saved there before.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import torch
from torch import nn

from minrnn import safetensors_io
from minrnn.files import atomic_path, replace_dir, write_text
from minrnn.reader import read_json

CONFIG, WEIGHTS = "config.json", "model.safetensors"
VERSION = 2  # 1: SequenceModel only, without the "weights" entry (migrated on load)
MAX_CONFIG = 1 << 20  # bytes
USER = "Module"  # the format name of a module whose class is not minrnn's own


def own_classes() -> dict[str, type[nn.Module]]:
    """The classes a saved folder may name (format ``minrnn.<name>/N``): nothing else is ever built."""
    from minrnn.blocks import Block, CausalConv1d
    from minrnn.layers import MinGRU, MinLSTM
    from minrnn.model import SequenceModel

    return {c.__name__: c for c in (MinGRU, MinLSTM, Block, CausalConv1d, SequenceModel)}


def config_of(module: nn.Module) -> dict | None:
    """The constructor's arguments that rebuild ``module``: its ``config`` where it records one
    (SequenceModel, Block, a user's module), read from the layer's settings for MinGRU/MinLSTM and
    CausalConv1d (their current values: a setting changed after construction is saved as it is)."""
    from minrnn.blocks import CausalConv1d
    from minrnn.layers import MinGRU, MinLSTM

    if isinstance(module, (MinGRU, MinLSTM)):
        first = module._projections[0]
        config = {"dim_in": module.dim_in, "dim_hidden": module.dim_hidden, "log_space": module.log_space}
        config |= {"bias": getattr(first, "bias", None) is not None, "scan": module.scan}
        config |= {"init_hidden_state": module.init_hidden_state is not None, "log_chunk": module.log_chunk}
        if isinstance(module, MinLSTM):  # forget_bias only shifts the initial bias: the weights hold it
            config |= {"normalize_gates": module.normalize_gates, "forget_bias": 0.0}
        return config
    if isinstance(module, CausalConv1d):
        return {"dim": module.depthwise.in_channels, "kernel_size": module.kernel_size}
    config = getattr(module, "config", None)
    return dict(config) if isinstance(config, dict) else None


def _tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict on the CPU, tensors that share memory (tied weights) copied apart (safetensors refuses them)."""
    out, seen = {}, set()
    for name, t in module.state_dict().items():
        t = t.detach().to("cpu").contiguous()
        key = (t.untyped_storage().data_ptr(), t.storage_offset()) if t.numel() else None
        out[name] = t.clone() if key in seen else t
        seen.add(key)
    return out


def save_pretrained(module: nn.Module, path: str | Path, extra: dict | None = None, config: dict | None = None) -> Path:
    """Write ``module`` to the folder ``path`` (replaced only once the new one is complete). ``config``:
    the constructor's arguments (default config_of(module)); ``extra``: JSON kept beside them (a
    vocabulary, provenance), given back as ``model.extra`` on load."""
    if not isinstance(module, nn.Module):
        raise ValueError(f"save_pretrained needs a torch module, got {type(module).__name__}")
    cls = type(module)
    base = next((c for c in cls.__mro__ if own_classes().get(c.__name__) is c), None)  # minrnn.hf's subclasses
    config = config_of(module) if config is None else config
    document = {
        "format": f"minrnn.{base.__name__ if base is not None else USER}/{VERSION}",
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "config": config,
        "extra": extra or {},
    }
    tensors = _tensors(module)
    for name, t in tensors.items():
        if t.dtype not in safetensors_io.NAMES:
            raise ValueError(f"save_pretrained: {name} has dtype {t.dtype}, which safetensors cannot hold")

    def fill(folder: Path) -> None:
        with atomic_path(folder / WEIGHTS) as tmp:
            _save_tensors(tensors, tmp)
        document["weights"] = {"file": WEIGHTS, "bytes": (folder / WEIGHTS).stat().st_size, "tensors": len(tensors)}
        try:
            text = json.dumps(document, indent=2, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"save_pretrained: the module's config or extra is not JSON ({e})") from None
        write_text(folder / CONFIG, text + "\n")

    return replace_dir(path, fill)  # a failed save keeps the model saved there before


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    try:
        from safetensors.torch import save_file
    except ImportError:
        save_file = safetensors_io.save_file
    save_file(tensors, str(path), metadata={"format": "pt"})


def _regular_file(folder: Path, name: str, root: Path | None = None) -> Path:
    """``folder/name`` if it is a regular file inside ``root`` (default ``folder``; links that stay inside are fine)."""
    path = folder / name
    real, base = path.resolve(), (root or folder).resolve()
    if base not in real.parents:
        raise ValueError(f"{path} is a link out of its folder (to {real}); refused")
    if not real.is_file():
        raise ValueError(f"{path} is missing or not a regular file")
    return path


def read_config(folder: str | Path, root: Path | None = None) -> dict:
    """The checked ``config.json`` of a saved folder, migrated to the current version."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder (give the folder save_pretrained wrote)")
    path = _regular_file(folder, CONFIG, root)
    saved = read_json(path.resolve(), max_bytes=MAX_CONFIG)  # links checked above; bounded, depth-limited
    fmt = saved.get("format") if isinstance(saved, dict) else None
    m = re.fullmatch(r"minrnn\.(\w+)/(\d+)", fmt) if isinstance(fmt, str) else None
    if m is None:
        raise ValueError(f"{path}: format {fmt!r} is not a saved minrnn model ('minrnn.<Class>/{VERSION}')")
    name, version = m.group(1), int(m.group(2))
    if version == 1 and name == "SequenceModel":  # version 1 recorded no weights entry: nothing to check it by
        saved = {**saved, "weights": {"file": WEIGHTS}}
    elif version != VERSION:
        newer = "a newer minrnn; upgrade minrnn" if version > VERSION else "no minrnn this one can migrate"
        raise ValueError(f"{path}: format {fmt!r} (version {version}) was written by {newer} (reads up to {VERSION})")
    if not isinstance(saved.get("config"), (dict, type(None))) or not isinstance(saved.get("extra", {}), dict):
        raise ValueError(f"{path}: config and extra must be JSON objects")
    weights = saved.get("weights")
    if not isinstance(weights, dict) or weights.get("file") != WEIGHTS:
        raise ValueError(f"{path}: weights must name {WEIGHTS}")
    return {**saved, "name": name, "version": version}


def _check_layers(config: dict, path: Path) -> None:
    """A block's ``rnn`` may name only minrnn's own layers: a short name, or a torch module in minrnn."""
    from minrnn.blocks import RNNS, rnn_class

    blocks = [config.get("block")] if "block" in config else [config]
    for block in blocks:
        rnn = (block or {}).get("rnn", "mingru") if isinstance(block, (dict, type(None))) else None
        if isinstance(rnn, str) and rnn in RNNS:
            continue
        ok = isinstance(rnn, str) and rnn.startswith("minrnn.") and ".harness." not in rnn
        cls = rnn_class(rnn) if ok else None
        if not (isinstance(cls, type) and issubclass(cls, nn.Module) and cls.__module__.startswith("minrnn.")):
            raise ValueError(f"{path}/{CONFIG} names rnn {rnn!r}, which is not one of minrnn's own layers")


def _build(cls: type[nn.Module], config: dict | None, path: Path, saved: dict, root: Path | None) -> nn.Module:
    """``cls(**config)`` once every key is one the constructor takes and the sizes it implies fit the
    weights file: built first on the meta device (no memory), its state checked against the header."""
    if config is None:
        raise ValueError(f"{path}/{CONFIG} holds no config for {cls.__name__}: pass into=<an instance you built>")
    params = inspect.signature(cls).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(config) - set(params))
        if unknown:
            raise ValueError(f"{path}/{CONFIG}: {cls.__name__} takes no argument {unknown[0]!r}")
    try:
        with torch.device("meta"):
            probe = cls(**config)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}/{CONFIG}: cannot build {cls.__name__} from its config ({e})") from None
    check_weights(probe, path, saved, root)
    return cls(**config)


def load_weights(
    module: nn.Module, folder: str | Path, saved: dict | None = None, root: Path | None = None
) -> nn.Module:
    """Load ``folder``'s weights into ``module``: the header is checked against the file and against the
    module's own names, shapes and dtypes before any tensor is read."""
    path = check_weights(module, folder, saved, root)
    try:
        from safetensors.torch import load_file  # memory-mapped
    except ImportError:
        tensors, _ = safetensors_io.load_file(path)
    else:
        try:
            tensors = load_file(str(path))
        except Exception as e:  # the package's own SafetensorError
            raise ValueError(f"{path} is not a safetensors file minrnn can read ({e})") from None
    return load_state(module, tensors, path)


def _same_names(expected: dict, saved, what: str) -> None:
    """ValueError unless ``saved`` holds exactly the tensors ``expected`` names."""
    missing, unexpected = sorted(set(expected) - set(saved)), sorted(set(saved) - set(expected))
    if missing or unexpected:
        which = f"lacks {missing[0]!r}" if missing else f"has {unexpected[0]!r}, which the module does not"
        raise ValueError(f"{what} {which} (not this module's weights)")


def load_state(module: nn.Module, state, where: str | Path) -> nn.Module:
    """Load a saved ``state`` (a state dict: a checkpoint's, a file's) into ``module`` once every tensor's
    name and shape equals the module's; else one ValueError naming ``where`` and the first tensor that
    differs (torch's own size-mismatch report runs to many lines and names no file). Every load of saved
    weights goes through here."""
    if not isinstance(state, dict):
        raise ValueError(f"{where}: the saved weights are a {type(state).__name__}, not a state dict")
    expected = module.state_dict()
    _same_names(expected, state, f"{where}: the saved weights")
    for name, t in expected.items():
        saved = state[name]
        if not isinstance(saved, torch.Tensor) or saved.shape != t.shape:
            got = list(saved.shape) if isinstance(saved, torch.Tensor) else type(saved).__name__
            raise ValueError(
                f"{where}: {name} is {got}, the model's is {list(t.shape)} (these weights are not this model's)"
            )
    module.load_state_dict(state)
    return module


def check_weights(module: nn.Module, folder: str | Path, saved: dict | None = None, root: Path | None = None) -> Path:
    """The weights file of ``folder``, once its size and header fit ``module`` (names, shapes, dtypes)."""
    folder = Path(folder)
    saved = read_config(folder, root) if saved is None else saved
    path = _regular_file(folder, WEIGHTS, root)
    size = path.stat().st_size
    want = saved["weights"].get("bytes")
    if want is not None and size != want:
        raise ValueError(f"{path} is {size} bytes, {CONFIG} says {want}: truncated or replaced")
    header, _, _ = safetensors_io.read_header(path)
    expected = module.state_dict()
    _same_names(expected, header, str(path))
    for name, t in expected.items():
        spec = header[name]
        if spec["shape"] != list(t.shape) or safetensors_io.DTYPES[spec["dtype"]] != t.dtype:
            raise ValueError(
                f"{path}: {name} is {spec['dtype']} {spec['shape']}, the module's is "
                f"{safetensors_io.NAMES.get(t.dtype, t.dtype)} {list(t.shape)} (its config does not fit these weights)"
            )
    return path


def load_pretrained(
    path: str | Path,
    cls: type[nn.Module] | None = None,
    into: nn.Module | None = None,
    map_location: str | torch.device = "cpu",
    root: str | Path | None = None,
) -> nn.Module:
    """The module save_pretrained wrote to ``path``, in eval mode, its ``extra`` in ``.extra``. minrnn's own
    classes are built from config.json (``cls`` may be a subclass of the one saved, e.g. minrnn.hf's); a
    user's module needs ``cls`` (built as cls(**config)) or ``into``. ``root``: the folder its files may
    link into (default ``path``)."""
    path, root = Path(path), Path(root) if root is not None else None
    saved = read_config(path, root)
    name, config = saved["name"], saved.get("config")
    own = own_classes()
    if into is not None:
        module = into
    elif cls is not None and name in own and issubclass(cls, own[name]):
        if name in ("Block", "SequenceModel") and isinstance(config, dict):
            _check_layers(config, path)
        module = _build(cls, config, path, saved, root)
    elif cls is not None and own.get(cls.__name__) is not cls:  # a user's class: the caller chose to build it
        if name != USER or saved.get("class", "").rsplit(".", 1)[-1] != cls.__qualname__.rsplit(".", 1)[-1]:
            raise ValueError(f"{path}/{CONFIG} holds a {saved.get('class', name)}, not a {cls.__qualname__}")
        module = _build(cls, config, path, saved, root)
    else:
        if name not in own:
            user = name == USER
            named = saved.get("class") if user else f"minrnn.{name}"
            hint = "; load it with load_pretrained(path, cls=<its class>) or into=<an instance>" if user else ""
            raise ValueError(
                f"{path}/{CONFIG} names class {named!r}, which is not one of minrnn's own "
                f"({', '.join(own)}); not built{hint}"
            )
        if cls is not None and cls.__name__ != name:
            raise ValueError(f"{path}/{CONFIG} holds a {name}, not a {cls.__name__}")
        named = saved.get("class", f"minrnn.{name}")
        if not (isinstance(named, str) and named.startswith("minrnn.") and named.rsplit(".", 1)[-1] == name):
            raise ValueError(f"{path}/{CONFIG} says class {named!r} for a saved {name}; not built")
        if name in ("Block", "SequenceModel") and isinstance(config, dict):
            _check_layers(config, path)
        module = _build(own[name], config, path, saved, root)
    load_weights(module, path, saved, root)
    module.extra = saved.get("extra", {})
    return module.to(map_location).eval()


class Pretrained:
    """``save_pretrained(path, extra=None)`` and ``from_pretrained(path)`` as methods (minrnn.pretrained).
    Mix it into a module that records its constructor's arguments in ``self.config``."""

    def save_pretrained(self, path: str | Path, extra: dict | None = None) -> Path:
        return save_pretrained(self, path, extra)

    @classmethod
    def from_pretrained(cls, path: str | Path, map_location: str | torch.device = "cpu"):
        return load_pretrained(path, cls=cls, map_location=map_location)


__all__ = ["Pretrained", "config_of", "load_pretrained", "load_weights", "read_config", "save_pretrained"]
