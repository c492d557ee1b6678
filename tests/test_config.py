"""Every config in configs/ composes, resolves and instantiates, so none can rot."""

from pathlib import Path

import numpy as np
import pytest
from harness import compose_cfg
from lra_files import write_aan, write_cifar
from omegaconf import OmegaConf

from minrnn.harness.schema import SettingError, check
from minrnn.harness.train import CONFIGS, build
from minrnn.tasks.d4rl_data import Episode, write_d4rl

MODELS = sorted(p.stem for p in Path(CONFIGS, "model").glob("*.yaml"))
TASKS = sorted(p.stem for p in Path(CONFIGS, "task").glob("*.yaml"))
EXPERIMENTS = sorted(
    str(p.relative_to(Path(CONFIGS, "experiment")).with_suffix("")) for p in Path(CONFIGS, "experiment").rglob("*.yaml")
)


def test_the_config_groups_hold_every_model():
    assert {"mingru", "minlstm", "gru", "lstm", "mamba", "transformer"} <= set(MODELS)
    assert "table2/mamba" in EXPERIMENTS and "table1/minlstm" in EXPERIMENTS


@pytest.fixture(scope="module")
def data_overrides(tmp_path_factory) -> dict[str, list[str]]:
    """Small stand-ins for the tasks that read a data file (no downloads in tests)."""
    corpus = tmp_path_factory.mktemp("data") / "corpus.txt"
    corpus.write_text("To be, or not to be, that is the question.\n" * 300)
    d4rl = corpus.parent / "hopper_medium-v2.hdf5"
    rng = np.random.default_rng(0)
    states, actions = rng.normal(size=(30, 11)).astype(np.float32), rng.uniform(-1, 1, (30, 3)).astype(np.float32)
    write_d4rl(d4rl, [Episode(states, actions, np.ones(30, np.float32), True)])
    return {
        "shakespeare": [f"task.path={corpus}", "task.md5=null"],
        "d4rl": [f"task.path={d4rl}"],
        "listops": ["task.n_train=50", "task.n_eval=10", "task.cache_dir=null"],
        "retrieval": [f"task.path={write_aan(corpus.parent / 'aan')}"],
        "gimage": [f"task.path={write_cifar(corpus.parent / 'cifar')}"],
    }


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("scale", ["cpu", "paper"])
def test_model_task_scale_composes_and_builds(model, task, scale, data_overrides):
    cfg = compose_cfg([f"model={model}", f"task={task}", f"scale={scale}", *data_overrides.get(task, [])])
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    if scale == "cpu":
        t, m = build(cfg)
        assert sum(p.numel() for p in m.parameters()) > 0 and (getattr(t, "vocab_size", None) or t.dim_in)


CLAIMS_BASE = {  # configs/experiment/claims/*: the preset each one extends
    "copy_minlstm_long": "table2/minlstm",
    "copy_minlstm_norm_long": "table2/minlstm",
    "figure2_long_mingru": "figure2/mingru",
    "figure2_long_minlstm": "figure2/minlstm",
    "figure2_long_transformer": "figure2/transformer",
    "chomsky_long_minlstm": "table4/minlstm",
    "figure5_copy": "table2/minlstm",  # the same steps, other forget biases
}


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("scale", ["cpu", "paper"])
def test_experiment_presets_compose(experiment, scale):
    cfg = compose_cfg([f"experiment={experiment}", f"scale={scale}"])
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    if "/" not in experiment:  # a table's template for any model (experiment=table2 model=<key>)
        expected = {"table1": "selective_copy", "table2": "selective_copy", "figure2": "shakespeare", "table3": "d4rl"}
        expected |= {"table4": "chomsky/parity_check", "table4_lra": "lra/listops"}
        assert cfg.task.name.startswith(expected[experiment])
        return
    group, name = experiment.split("/")
    if group == "claims":  # a longer run, or a variant, of a table's preset: its task and model, more steps
        base = compose_cfg([f"experiment={CLAIMS_BASE[name]}", f"scale={scale}"])
        assert (cfg.task.name, cfg.model.name) == (base.task.name, base.model.name)
        assert cfg.trainer.max_steps > base.trainer.max_steps or scale == "paper" or name == "figure5_copy"
        return
    assert cfg.model.name in name.split("_")
    tasks = {
        "table1": "selective_copy",
        "table2": "selective_copy",
        "figure2": "shakespeare",
        "table4": "chomsky/parity_check",
        "table6": "lra/listops",
        "figure5": "lra/listops",
        "table3": "d4rl/hopper-medium",
        "recall": "mqar/L64-P4" if scale == "cpu" else "mqar/L512-P64",
    }
    assert cfg.task.name == ("lra/listops" if name.startswith("lra_") else tasks[group])


def test_scale_switches_the_paper_and_cpu_settings():
    paper = compose_cfg(["scale=paper"])
    cpu = compose_cfg(["scale=cpu"])
    assert (paper.task.seq_len, paper.task.num_tokens, paper.trainer.max_steps) == (4096, 16, 400000)
    assert (paper.trainer.lr, paper.trainer.grad_accum) == (3e-4, 2)  # Appendix C: Adam 3e-4, 2 x 32
    assert cpu.task.seq_len < paper.task.seq_len and cpu.trainer.max_steps < paper.trainer.max_steps
    # an explicit override beats the scale's value
    assert compose_cfg(["scale=paper", "task.seq_len=100"]).task.seq_len == 100


def test_unknown_scale_is_named():
    with pytest.raises(Exception, match="scale='gpu': must be one of paper, cpu"):
        OmegaConf.to_container(compose_cfg(["scale=gpu"]), resolve=True)
    with pytest.raises(SettingError, match="^scale='gpu': must be one of paper, cpu$"):
        check(compose_cfg(["scale=gpu"]))  # the schema, first, as minrnn-train does


@pytest.mark.parametrize("launcher", ["local", "slurm"])
def test_launchers_compose(launcher):
    cfg = compose_cfg([f"hydra/launcher={launcher}"], hydra_cfg=True)
    assert "joblib" in cfg.hydra.launcher._target_.lower() or "submitit" in cfg.hydra.launcher._target_.lower()


def test_the_slurm_commands_of_the_docs_compose():
    """Every Slurm example in docs/clusters.md composes (first value of each sweep) with the launcher's keys."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "clusters.md").read_text()
    block = text.split("### Slurm", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    launcher = " ".join(
        line.split('"')[1].replace("$L", "") for line in block.splitlines() if line.startswith(("L=", 'L="'))
    ).split()
    commands = [line.split("#")[0].split()[3:] for line in block.splitlines() if line.startswith("minrnn-train -m $L")]
    assert len(commands) == 6 and "hydra.launcher.qos=normal" in launcher
    for words in commands:
        overrides = [w.split("=", 1)[0] + "=" + w.split("=", 1)[1].split(",")[0] for w in words]
        cfg = compose_cfg([*launcher, *overrides], hydra_cfg=True)
        assert cfg.hydra.launcher.partition == "gpu" and cfg.hydra.launcher.max_num_timeout == 3
        OmegaConf.to_container(cfg.task, resolve=True)


def test_settings_added_at_the_value_of_the_committed_runs_keep_every_identity():
    """minrnn.harness.config.ABSENT_AT: a setting added to the configs (for scale=paper) hashes as absent
    at the value that reproduces the committed runs, and as a new identity at any other value."""
    from minrnn.harness.config import ABSENT_AT, identity

    base = {"trainer": {"lr": 1e-3}, "model": {"net": {"dim": 8, "block": {"rnn_kwargs": {"scan": "auto"}}}}}
    for path, value in ABSENT_AT.items():
        with_default = {"task": {"arch": {"dim": 8}}, **base}
        node = with_default = json_copy(with_default)
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
        plain = json_copy({"task": {"arch": {"dim": 8}}, **base})
        assert identity(with_default) == identity(plain), path
        node[path[-1]] = "changed" if isinstance(value, str) or value is None else (not value)
        assert identity(with_default) != identity(plain), path
    assert identity({"trainer": {"decay_rnn": 1}}) != identity({"trainer": {}})  # 1 is not True


def json_copy(d: dict) -> dict:
    import json

    return json.loads(json.dumps(d))


def test_scale_paper_follows_the_authors_code_where_the_paper_is_silent_and_cpu_keeps_its_runs():
    paper = compose_cfg(["experiment=table2/mingru", "scale=paper"])
    cpu = compose_cfg(["experiment=table2/mingru", "scale=cpu"])
    assert paper.trainer.optimizer == "adamw" and paper.trainer.decay_rnn is False
    assert paper.model.net.block.rnn_kwargs.init_hidden_state is True and paper.task.arch.rnn_dropout == 0.0
    assert cpu.trainer.optimizer == "adam" and cpu.model.net.block.rnn_kwargs.init_hidden_state is False
    gpt = compose_cfg(["experiment=figure2/transformer", "scale=paper"])
    assert gpt.model.net.positions == "learned" and gpt.model.net.tie_head is True
    assert gpt.model.net.max_len == gpt.task.context == 256
