"""minrnn/harness/schema.py: one schema for every setting. Every committed config passes it unchanged and
uses every entry; a key no entry declares fails; bad values drawn by Hypothesis for every key give one
line naming the key (in-process, and exit 2 from the CLI with nothing written); valid values pass.
``make fuzz`` runs the same properties with many more examples (HYPOTHESIS_PROFILE=fuzz)."""

import copy
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from harness import compose_cfg, tiny
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from minrnn.harness import schema, schema_rules
from minrnn.harness.schema import SettingError, check, keys_for, rule

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
MODELS = sorted(p.stem for p in (CONFIGS / "model").glob("*.yaml"))
TASKS = sorted(p.stem for p in (CONFIGS / "task").glob("*.yaml"))
PRESETS = sorted(str(p.relative_to(CONFIGS / "experiment"))[:-5] for p in (CONFIGS / "experiment").rglob("*.yaml"))


def _walked(config):
    return dict(schema._walk(config, keys_for(config)))


@pytest.fixture(scope="module")
def committed():
    """Every task at both scales, each with a model (every model at both scales too), and every experiment
    preset at scale=cpu (scale=paper: tests_paper_scale): together they hold every key of every option."""
    out = {}
    for i, task in enumerate(TASKS):
        for scale in ("cpu", "paper"):
            model = MODELS[(i + (scale == "paper") * 3) % len(MODELS)]
            cfg = compose_cfg([f"model={model}", f"task={task}", f"scale={scale}"])
            out[model, task, scale] = (cfg, check(cfg))
    for preset in PRESETS:
        cfg = compose_cfg([f"experiment={preset}", "scale=cpu"])
        out[preset] = (cfg, check(cfg))
    return out


def test_every_committed_config_passes_unchanged_and_every_entry_is_used(committed):
    used = set()
    for cfg, config in committed.values():
        assert config == OmegaConf.to_container(cfg, resolve=True)  # the schema reads, never converts
        used |= set(_walked(config))
    assert {key[0] for key in committed if len(key) == 3} == set(MODELS)
    declared = {
        *schema_rules.COMMON,
        *(f"model.{k}" for k in schema_rules.MODEL),
        *(f"task.{k}" for k in schema_rules.TASK),
    }
    declared |= {f"model.{k}" for table in schema_rules.MODELS.values() for k in table}
    declared |= {f"task.{k}" for table in schema_rules.TASKS.values() for k in table}
    unused = declared - used - {"model.schema", "task.schema"}  # for $MINRNN_CONFIGS additions
    assert not unused, f"schema entries no committed config uses (remove them): {sorted(unused)}"


def test_every_option_has_its_table():
    for model in MODELS:
        assert compose_cfg([f"model={model}"]).model.name == model and model in schema_rules.MODELS
    targets = [compose_cfg([f"task={task}"]).task._target_ for task in TASKS]
    assert sorted(targets) == sorted(schema_rules.TASKS)  # one table per task YAML, none left over


def test_a_new_key_in_a_yaml_without_a_schema_entry_fails(committed):
    """What this test file guards: a key added to a committed YAML (here, by hand) without an entry."""
    config = copy.deepcopy(committed["table2/mingru"][1])
    config["trainer"]["warmup_ratio"] = 0.1
    with pytest.raises(SettingError, match=r"^unknown key trainer\.warmup_ratio=0\.1 .*; trainer takes: .*warmup"):
        check(config)


def test_a_user_models_keys_are_declared_in_its_schema_block(committed):
    config = copy.deepcopy(committed["table2/mingru"][1])
    config["model"] = {
        "name": "toy",
        "display": {"name": "Toy"},
        "net": {"_target_": "minrnn.baselines.mamba.Mamba", "dim": 16, "depth": 1, "d_state": 4},
    }
    with pytest.raises(SettingError, match=r"unknown key model\.net\.d_state=4"):
        check(config)
    config["model"]["schema"] = {"net.d_state": "int >= 1"}
    assert check(config) is config
    config["model"]["net"]["d_state"] = 0
    with pytest.raises(SettingError, match=r"^model\.net\.d_state=0: must be an integer >= 1$"):
        check(config)
    config["model"]["net"]["d_state"], config["model"]["schema"]["net.d_stat"] = 4, "int"
    config["model"]["net"]["d_stat"] = 1  # declared, but not an argument of the class
    with pytest.raises(SettingError, match=r"unknown key model\.net\.d_stat=1 for Mamba; valid keys: .*d_state"):
        check(config)


@pytest.mark.parametrize(
    "override,message",
    [
        ("trainer.on_nonfinite=skp", r"trainer\.on_nonfinite='skp': must be one of stop, skip$"),
        ("trainer.schedule=cosin", r"trainer\.schedule='cosin': must be one of constant, cosine, linear$"),
        ("+trainer.max_stepz=5", r"unknown key trainer\.max_stepz=5 \(did you mean trainer\.max_steps\?\)"),
        ("trainer.device=gpu", r"trainer\.device='gpu': must be one of auto, cpu, cuda, cuda:N, mps$"),
        ("scale=gpu", r"scale='gpu': must be one of paper, cpu$"),
        ("task.seq_len=abc", r"task\.seq_len='abc': must be an integer in \[1, 16777216\]$"),
        ("task.num_tokens=100", r"task\.num_tokens=100: must be <= task\.seq_len=8"),
        ("trainer.betas=[0.9,1.5]", r"trainer\.betas=\[0\.9, 1\.5\]: must be a list of 2 values, each a finite number"),
        ("task.vocab_size=2", r"task\.vocab_size=2: must be an integer in \[3, 16777216\]$"),
        ("trainer.max_steps=1000000000000000000", r"trainer\.max_steps=10+: must be an integer in \[1, 1e9\]$"),
        ("trainer.lr=${oc.env:NO_SUCH_VARIABLE_HERE}", r"trainer\.lr='\$\{oc\.env:NO_SUCH_VARIABLE_HERE\}': cannot be"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_key_the_value_and_what_is_allowed(tmp_path, override, message):
    with pytest.raises(SettingError) as e:
        check(compose_cfg(tiny(tmp_path, override)))
    assert re.search(message, str(e.value)) and "\n" not in str(e.value), str(e.value)


def test_a_slurm_sweep_checks_its_gpus_on_its_nodes_not_here(tmp_path):
    cfg = compose_cfg(tiny(tmp_path, "trainer.device=cuda:1"))
    check(cfg, here=False)  # a login node without GPUs submits it
    with pytest.raises(SettingError, match=r"trainer\.device='cuda:1': this machine has \d CUDA device"):
        check(cfg)


def test_no_other_module_checks_settings():
    """One place: outside the schema, no module of the harness or scripts raises an error that names a
    setting, nor keeps a table of ranges; they call minrnn.harness.schema."""
    pattern = re.compile(
        r"raise \w+\(\s*f?[\"'](unknown )?((trainer|task|model|logger|paths|hydra)\.|(scale|seed|threads)(=| must))"
    )
    found = []
    for path in [*(ROOT / "minrnn/harness").glob("*.py"), *(ROOT / "scripts").glob("*.py")]:
        if path.name not in ("schema.py", "schema_rules.py") and pattern.search(path.read_text()):
            found.append(path.name)
    assert not found, f"settings checked outside minrnn/harness/schema.py: {found}"
    assert not (ROOT / "minrnn/harness/settings.py").exists()


# ------------------------------------------------------------------------------------------------ fuzzing
@pytest.fixture(scope="module")
def base(committed):
    return committed["table2/mingru"][1]


# keys whose valid values can still clash with another's (a combination rule) or need hardware
COMBINED = {
    "trainer.batch_size",
    "trainer.grad_accum",
    "trainer.device",
    "task.seq_len",
    "task.num_tokens",
    "task._target_",
    "model.net._target_",
    "model.name",
    "model.net.block.rnn_kwargs.scan",
    "model.net.block.rnn_kwargs.log_space",
    "task.version",  # the task class's VERSION: any other is refused (test_task_version_is_the_generators...)
}
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _keys(config):
    return sorted(k for k, spec in keys_for(config).items() if k in _walked(config) and spec != "dict")


def _set(config, key, value):
    config = copy.deepcopy(config)
    node = config
    *parents, last = key.split(".")
    for p in parents:
        node = node[p]
    node[last] = value
    return config


JUNK = st.one_of(
    st.text(min_size=1, max_size=8),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
)


def _bad(spec: str):
    """Values the rule refuses: anything drawn, minus what it takes (a typo of a choice is a text)."""
    r = schema.rule(spec)
    typos = [c[:-1] + "x" for c in re.findall(r"[a-z_]{3,}", spec) if c not in ("int", "float", "null", "list", "of")]
    return st.one_of(JUNK, st.sampled_from(typos or ["?"])).filter(lambda v: not r.ok(v))


def _good(spec: str):
    """Values the rule takes, drawn from each alternative."""
    out = []
    for alt in spec.split(" | "):
        m = schema._NUMBER.match(alt)
        if alt == "null":
            out.append(st.none())
        elif alt == "bool":
            out.append(st.booleans())
        elif alt in ("str", "text"):
            out.append(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8))
        elif alt == "name":  # a part of a file name
            out.append(st.text(st.sampled_from("aZ09._+=-"), max_size=8))
        elif alt == "run name":  # names separated by /, none empty, . or ..
            part = st.text(st.sampled_from("aZ09._+=-"), min_size=1, max_size=6).filter(lambda p: p.strip("."))
            out.append(st.lists(part, min_size=1, max_size=3).map("/".join))
        elif m:
            kind, op, bound, left, lo, hi, right = m.groups()
            a = float(bound) if op in (">", ">=") else float(lo) if lo else -1e6
            z = float(bound) if op in ("<", "<=") else float(hi) if hi else 1e6
            if kind == "int":
                out.append(st.integers(math.ceil(a) + (op == ">"), math.floor(z)))
            else:
                out.append(st.floats(a, z, exclude_min=op == ">" or left == "(", exclude_max=right == ")"))
        elif alt.startswith("list of"):
            n, item = schema._LIST.match(alt).groups()
            out.append(st.lists(_good(item), min_size=int(n or 0), max_size=int(n or 3)))
        elif "N" not in alt:
            out.append(st.just(alt))
    r = schema.rule(spec)
    return st.one_of(out).filter(r.ok)


@FUZZ
@given(data=st.data())
def test_fuzz_a_bad_value_for_any_key_is_one_line_naming_it(base, data):
    key = data.draw(st.sampled_from(_keys(base)), label="key")
    value = data.draw(_bad(keys_for(base)[key]), label="value")
    with pytest.raises(SettingError) as e:
        check(_set(base, key, value))
    message = str(e.value)
    assert "\n" not in message and (message.startswith(f"{key}=") or f" {key}=" in message), message


@FUZZ
@given(data=st.data())
def test_fuzz_an_unknown_sibling_key_is_named(base, data):
    key = data.draw(st.sampled_from(_keys(base)), label="beside")
    name = data.draw(st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz_"), min_size=1, max_size=10), label="name")
    sibling = f"{key.rsplit('.', 1)[0]}.{name}" if "." in key else name
    if sibling in keys_for(base) or any(k.startswith(sibling + ".") for k in keys_for(base)):
        return
    with pytest.raises(SettingError, match=rf"^unknown key {re.escape(sibling)}=1"):
        check(_set(base, sibling, 1))


@FUZZ
@given(data=st.data())
def test_fuzz_a_valid_value_for_any_key_passes(base, data):
    key = data.draw(st.sampled_from([k for k in _keys(base) if k not in COMBINED]), label="key")
    value = data.draw(_good(keys_for(base)[key]), label="value")
    check(_set(base, key, value))


def _override(key, value):
    return f"{key}={value}" if not isinstance(value, bool) else f"{key}={str(value).lower()}"


SIMPLE = st.one_of(st.text(st.sampled_from("abcxyz"), min_size=1, max_size=5), st.integers(-50, -1))


@settings(
    max_examples=max(4, settings.default.max_examples // 100),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_fuzz_cli_a_bad_value_exits_2_with_one_line_and_writes_nothing(tmp_path_factory, base, data):
    tmp = tmp_path_factory.mktemp("cli")
    keys = [k for k in _keys(base) if k.startswith(("trainer.", "task.")) and not k.endswith("_target_")]
    key = data.draw(st.sampled_from(keys), label="key")
    value = data.draw(SIMPLE.filter(lambda v: not schema.rule(keys_for(base)[key]).ok(v)), label="value")
    cmd = [sys.executable, "-m", "minrnn.harness.train", *tiny(tmp), _override(key, value)]
    out = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{key}=" in lines[0], out.stderr
    assert list(tmp.iterdir()) == []  # not even Hydra's run folder


@pytest.mark.parametrize(
    "args,message",
    [
        (["+trainer.max_stepz=5"], "unknown key trainer.max_stepz=5"),
        (["trainer.lr=[1,"], "'trainer.lr=[1,' is not a Hydra override (no viable alternative"),
        (["~trainer.lr"], "'~trainer.lr' deletes the setting trainer.lr"),
        (["+trainer.a.b.c=1"], "unknown key trainer.a.b.c=1 (did you mean trainer."),
        (["seed=0,1", "task.seq_len=8,abc", "-m"], "of 4 of the sweep"),
    ],
)
def test_cli_known_failures_exit_2_with_one_line_before_anything_is_written(tmp_path, args, message):
    cmd = [sys.executable, "-m", "minrnn.harness.train", *args[-1:], *tiny(tmp_path), *args[:-1]]
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and message in lines[0], out.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []


def numeric_rules():
    """(key, rule) of every rule with a number in it, of every table."""
    from minrnn.harness import schema_rules as t

    tables = [t.COMMON, t.MODEL, t.TASK, t.LAUNCHER, *t.MODELS.values(), *t.TASKS.values()]
    return sorted({(k, r) for table in tables for k, r in table.items() if re.search(r"\b(int|float)\b", r)})


@pytest.mark.parametrize("key,spec", numeric_rules())
def test_every_numeric_rule_has_both_bounds(key, spec):
    """10^18 steps, a width of 10^9 or a negative count is refused by its rule, never built or run
    (a bound far past the paper's settings: every committed config passes, test above)."""
    r = rule(spec)
    for huge in (10**18, -(10**18), 1e30, -1e30):
        values = [huge, [huge, huge]] if "list" in spec else [huge]
        assert not any(r.ok(v) for v in values), (key, spec, huge)


NAME = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)


@FUZZ
@given(path=st.lists(NAME, min_size=1, max_size=4), under=st.sampled_from(["", "trainer", "task", "model.net", "zz"]))
def test_an_unknown_key_is_named_with_a_suggestion_and_what_its_section_takes(base, path, under):
    """Whatever the key (+trainer.a.b.c=1 once listed nothing), the message names it, suggests a key
    and lists the keys of the deepest section it is under."""
    from minrnn.harness.schema import _unknown

    table = keys_for(base)
    key = ".".join([*filter(None, under.split(".")), *path])
    assume(key not in table and not any(k.startswith(key + ".") for k in table))
    message = _unknown(key, 1, table)
    head, _, takes = message.partition("; ")
    prefix = f"unknown key {key}=1 (did you mean "
    assert head.startswith(prefix) and head.removeprefix(prefix).removesuffix("?)") in table, message
    section, _, names = takes.partition(" takes: ")
    assert names and all(names.split(", ")), message
    assert section == "the top level" or key.startswith(section + ".")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    task=st.sampled_from(["selective_copy", "chomsky", "listops", "mqar", "shakespeare"]),
    offset=st.integers(1, 10**6),  # within the [1, 1e9] bound: only the class can say it is wrong
)
def test_task_version_is_the_generators_not_a_setting(task, offset):
    """task.version=2 on a version-1 generator trained, and labelled its results with data this code does not
    make (a run identity of another generator): the schema refuses any version but the class's own."""
    cfg = compose_cfg([f"task={task}"])
    config = check(cfg)
    config["task"]["version"] += offset
    with pytest.raises(SettingError, match=r"^task\.version=.*generates version \d+; task\.version is read"):
        check(config)
