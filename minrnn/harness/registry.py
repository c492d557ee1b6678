"""The one registry of models: every table, figure, benchmark and check reads its models from here.

A model is its Hydra config, ``configs/model/<key>.yaml`` (or one in a folder that ``$MINRNN_CONFIGS``
names, which minrnn-train also searches), whose ``display`` block says how results show it:

    display:
      name: minGRU                  # in tables and figures
      color: tab:blue               # matplotlib colour; variants after the first are dashed
      paper: true                   # one of the paper's own models
      order: 1                      # rows and legends, ascending
      benchmarks: {"minGRU": [], "minGRU (log-space scan)": ["model.net.block.rnn_kwargs.scan=log"]}

``benchmarks`` names the variants that Figures 1, 3 and 4 time, each with its overrides (the first is
the model as configured). ``display`` is not part of a run's identity (minrnn.harness.config).
Adding a model is one Python file and one YAML file: docs/extending.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from minrnn.harness.config import CONFIGS
from minrnn.reader import Field, Record, UnreadableFile, check, check_folder, read_text

ENV = "MINRNN_CONFIGS"


@dataclass(frozen=True)
class Model:
    key: str  # model=<key>
    name: str
    color: str
    order: float
    paper: bool = False  # one of the paper's own models (minGRU, minLSTM)
    benchmarks: dict[str, list[str]] = field(default_factory=dict)  # variant name -> overrides

    def variants(self) -> dict[str, list[str]]:
        """Benchmark variants, each as overrides that compose it (``model=<key>`` first)."""
        return {name: [f"model={self.key}", *extra] for name, extra in (self.benchmarks or {self.name: []}).items()}


def config_folders() -> list[Path]:
    """The package's configs, then the folder ``$MINRNN_CONFIGS`` names (a path or a file:// URL), checked
    (minrnn.reader.check_folder): a folder of regular YAML files of bounded size, no link out of it."""
    extra = os.environ.get(ENV, "")
    folders = [Path(CONFIGS)]
    if extra and not extra.startswith("pkg://"):
        folder = Path(extra.removeprefix("file://"))
        try:
            check_folder(folder, (".yaml", ".yml"))
        except UnreadableFile as e:
            raise UnreadableFile(e.path, f"{e.reason} (in ${ENV}={extra})") from None
        folders.append(folder)
    return folders


# a model config's ``display`` block
DISPLAY = Record(
    {
        "name": Field(str),
        "color": Field(str, required=False, default="tab:gray"),
        "order": Field(float, required=False, default=99),
        "paper": Field(bool, required=False, default=False),
        "benchmarks": Field(dict, required=False, nullable=True, default=None, items=Field(list, items=Field(str))),
    }
)


def models() -> list[Model]:
    """Every model config with a ``display`` block, in display order."""
    found = {}
    for folder in config_folders():
        for path in sorted((folder / "model").glob("*.yaml")):
            try:
                node = OmegaConf.create(read_text(path, folder=folder))
            except UnreadableFile:
                raise
            except Exception as e:  # noqa: BLE001 -- YAML's and OmegaConf's many parse errors
                raise UnreadableFile(path, f"not a YAML config ({str(e).splitlines()[0][:160]})") from None
            display = node.get("display") if hasattr(node, "get") else None
            if display is None:
                continue
            d = check(path, OmegaConf.to_container(display), Field(DISPLAY))
            found[path.stem] = Model(path.stem, d["name"], d["color"], d["order"], d["paper"], d["benchmarks"] or {})
    return sorted(found.values(), key=lambda m: (m.order, m.key))


def keys() -> list[str]:
    return [m.key for m in models()]


def names() -> dict[str, str]:
    """key -> display name."""
    return {m.key: m.name for m in models()}


def benchmark_variants() -> dict[str, list[str]]:
    """Every model's benchmark variants: name -> overrides (Figures 1, 3 and 4)."""
    return {name: overrides for m in models() for name, overrides in m.variants().items()}


def styles() -> dict[str, tuple[str, str]]:
    """Benchmark variant name -> (colour, line style): the model's colour, dashed after its first variant."""
    return {name: (m.color, "-" if i == 0 else "--") for m in models() for i, name in enumerate(m.variants())}
