"""The recall experiment's results (docs/recall.md): MQAR runs matched to their presets, the best learning
rate of each (setting, model, width), and each model's recurrent state size. Read by
scripts/make_recall.py (the figure and table) and the claims audit's section on the discussion.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from minrnn.harness import registry, reporting


def variant(config: dict) -> str:
    """The recall preset a run belongs to: the model's key, ``_conv`` when a Conv4 precedes the minRNN."""
    return config["model"]["name"] + ("_conv" if config["task"]["arch"].get("conv") else "")


def state_size(config: dict) -> int:
    """Recurrent state elements per layer: minGRU/minLSTM/GRU d_hidden, LSTM hidden + cell, Mamba
    d_inner x d_state, the Transformer's KV cache at the sequence length (2 x T x d)."""
    name, arch, net = config["model"]["name"], config["task"]["arch"], config["model"]["net"]
    d = arch["dim"]
    if name in ("mingru", "minlstm"):
        return d * arch["expansion"]
    if name == "lstm":
        return 2 * d
    if name == "mamba":
        return net["expand"] * d * net["d_state"]
    if name == "transformer":
        return 2 * config["task"]["seq_len"] * d
    return d


def label(v: str) -> str:
    base = registry.names().get(v.removesuffix("_conv"), v)
    return base + (" + Conv4" if v.endswith("_conv") else "")


def collect(results: Path, scale: str) -> tuple[dict, list[str], list[str]]:
    """{setting: {variant: {state size: best run}}}, bad files, ignored files. A model's size is its
    recurrent state per layer (state_size): the width, and for minGRU/minLSTM the expansion too."""
    best, bad, ignored = defaultdict(lambda: defaultdict(dict)), [], []
    tried = defaultdict(set)  # (setting, variant, state size) -> learning rates with a run
    for folder in sorted((results / "mqar").glob(f"*/{scale}")):
        runs, b = reporting.load_runs(folder, scale, "test_acc")
        bad += b
        presets = {}
        for r in runs:
            c = r["config"]
            arch = c["task"]["arch"]
            key = (
                variant(c),
                state_size(c),
                c["trainer"]["lr"],
                c["task"]["seq_len"],
                c["task"]["num_kv_pairs"],
                arch["dim"],
                arch["expansion"],
            )
            presets[key] = [
                f"experiment=recall/{key[0]}",
                f"task.seq_len={key[3]}",
                f"task.num_kv_pairs={key[4]}",
                f"task.arch.dim={key[5]}",
                f"trainer.lr={key[2]}",
                *([f"task.arch.expansion={key[6]}"] if key[6] != 1 else []),
            ]
        cells, other = reporting.match(runs, presets, scale)
        ignored += [Path(r["_file"]).name for r in other]
        for (v, width, lr, L, P, _, _), rs in cells.items():
            tried[f"L{L}-P{P}", v, width].add(lr)
            r = seed_mean(rs)
            slot = best[f"L{L}-P{P}"][v]
            if width not in slot or r["metrics"]["best_val"] > slot[width]["metrics"]["best_val"]:
                slot[width] = r
    for (setting, v, width), lrs in tried.items():
        best[setting][v][width]["_lrs"] = sorted(lrs)
    return best, bad, ignored


def seed_mean(runs: list[dict]) -> dict:
    """One cell's runs (its seeds) as one: the first run, with the validation and test accuracies
    averaged over the seeds (``_n`` of them), so the best learning rate is chosen by the mean, not by a
    lucky seed."""
    first = sorted(runs, key=lambda r: r["seed"])[0]
    metrics = dict(first["metrics"])
    for key in ("best_val", "test_acc"):
        metrics[key] = sum(r["metrics"][key] for r in runs) / len(runs)
    return {**first, "metrics": metrics, "_n": len(runs)}
