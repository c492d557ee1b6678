"""No run writes over the result of a run with another config (minrnn.harness.records.check_replace): every
writer of a benchmark result refuses before its work starts, --replace writes over, the same config
replaces; and the Makefile's arguments are the config of the committed results they regenerate."""

import importlib
import json
from pathlib import Path

import pytest
import torch
from cli import guarded
from hypothesis import given
from hypothesis import strategies as st

from minrnn.harness import records

ROOT = Path(__file__).resolve().parent.parent


class Worked(BaseException):
    """Raised by a writer's work function: the run got past its check (BaseException: no guard catches it)."""


def work(*args, **kwargs):
    raise Worked


# minrnn.bench.<name>: the JSON it writes (under --out), its work function, the arguments of its Makefile target
# (or documented command), the committed result they regenerate, and how that config differs from theirs
WRITERS = {
    "layers": ("layers.json", "measure", [], "results/bench/layers.json", {}),
    "decoding": ("decoding.json", "shakespeare_model", [], "results/bench/decoding.json", {}),
    "scan_accuracy": ("scan_accuracy.json", "measure_length", [], "results/core/scan_accuracy.json", {}),
    "layer_precision": ("layer_precision.json", "measure", [], "results/core/layer_precision.json", {}),
    "profile_step": ("profile_cpu.json", "measure_length", [], "results/efficiency/profile_cpu.json", {}),
    "speed_card": ("speed_card.json", "layer_grid", ["--scale", "cpu"], "results/bench/speed_card.json", {}),
    # every capability, not --quick (the config was added to the committed record with its summary form)
    "gpu_compile": (
        "compile_triton-{triton}.json",
        "minrnn.triton_targets.check",
        [],
        "results/gpu/compile_triton-3.9.0.json",
        {"capabilities": [60, 70, 75, 80, 90], "quick": False},
    ),
    "gpu_check": ("test-cpu-dry-run.json", "backend_errors", ["--device", "cpu"], None, {"steps": 12, "quick": True}),
}


def call(name: str, argv: list[str], capsys) -> tuple[int, str, str]:
    code = guarded(importlib.import_module(f"minrnn.bench.{name}"), argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("name", list(WRITERS))
def test_a_result_of_another_config_is_refused_before_the_work_and_replaced_when_asked(
    name, tmp_path, monkeypatch, capsys
):
    import triton

    filename, work_fn, argv, committed, differs = WRITERS[name]
    module = importlib.import_module(f"minrnn.bench.{name}")
    if "." in work_fn:
        monkeypatch.setattr(work_fn, work)
    else:
        monkeypatch.setattr(module, work_fn, work)
    monkeypatch.setattr(records, "cpu_name", lambda: "Test CPU")  # the GPU check's file is named by the device
    if name == "gpu_compile":
        monkeypatch.delenv("TRITON_INTERPRET")
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # a writer sets it before its work
    path = tmp_path / filename.format(triton=triton.__version__)
    argv = [*argv, "--out", str(tmp_path)]

    path.write_text(json.dumps({"config": {"planted": 1}, "rows": []}))
    code, _, err = call(name, argv, capsys)  # refused: work() was not called, the file is as it was
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert str(path) in err and "planted: 1 there, unrecorded now" in err and "--replace" in err
    assert json.loads(path.read_text())["config"] == {"planted": 1}

    with pytest.raises(Worked):
        call(name, [*argv, "--replace"], capsys)
    assert "holds a result of another config (--replace): this run replaces it" in capsys.readouterr().out

    record = json.loads((ROOT / committed).read_text()) if committed else {}
    saved = record.get("config") or {}
    machine = {"threads": 7} if name == "speed_card" else {}  # the card's thread count: the machine's choice
    record["config"] = saved | differs | machine  # the committed result, as the Makefile's arguments make it
    path.write_text(json.dumps(record))
    with pytest.raises(Worked):  # the same config: no --replace needed
        call(name, argv, capsys)
    assert "holds a result of the same config: this run replaces it" in capsys.readouterr().out
    stale = [key for key in differs if saved.get(key, records.UNRECORDED) != differs[key]]
    if stale:  # the committed config as it is (until it is regenerated): another config, refused
        record["config"] = saved | machine
        path.write_text(json.dumps(record))
        code, _, err = call(name, argv, capsys)
        assert code == 2 and all(f"{key}: " in err for key in stale) and "threads" not in err, err


KEYS = st.sampled_from(["lengths", "batch", "budget", "out_of_date", "out"])
VALUES = st.none() | st.integers(-2, 2) | st.text("ab", max_size=2) | st.lists(st.integers(0, 2), max_size=2)


@given(theirs=st.dictionaries(KEYS, VALUES), mine=st.dictionaries(KEYS, VALUES), replace=st.booleans())
def test_a_config_is_the_same_only_when_every_key_but_out_is_there_with_the_same_value(
    tmp_path_factory, theirs, mine, replace
):
    path = tmp_path_factory.mktemp("result") / "r.json"
    check = lambda: records.check_replace(path, mine, replace, say=lambda line: None)
    assert check() == "new"  # nothing there yet
    path.write_text(json.dumps({"config": theirs, "rows": []}))
    keys = (set(theirs) | set(mine)) - {"out"}  # where it writes is no part of the config
    differs = {k for k in keys if k not in theirs or k not in mine or theirs[k] != mine[k]}
    if not differs:
        assert check() == "same"
    elif replace:
        assert check() == "replaced"
    else:
        with pytest.raises(records.OtherConfig) as e:
            check()
        named = {k for k in keys | {"out"} if f"{k}: " in str(e.value)}
        assert named == differs and str(path) in str(e.value)  # a key missing on one side is unrecorded, not None
        assert json.loads(path.read_text())["config"] == theirs


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_infinity=True) | st.text("ab1", max_size=2),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("xy", max_size=2), inner, max_size=3),
    max_leaves=8,
)


@given(config=st.dictionaries(st.text("abc", min_size=1, max_size=2), JSON, max_size=4))
def test_a_rerun_of_the_same_config_is_the_same_whatever_its_values_and_true_is_not_1(tmp_path_factory, config):
    path = tmp_path_factory.mktemp("result") / "r.json"
    path.write_text(json.dumps({"config": config}))  # NaN included: NaN != NaN must not refuse a rerun forever
    mine = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}  # a tuple is the list JSON holds
    assert records.check_replace(path, mine, False, say=lambda line: None) == "same"
    flipped = {k: int(v) if isinstance(v, bool) else v for k, v in config.items()}
    if any(isinstance(v, bool) for v in config.values()):  # true and 1 are other configs
        with pytest.raises(records.OtherConfig):
            records.check_replace(path, flipped, False, say=lambda line: None)


DAMAGED = {  # what is at <out>/scan_accuracy.json (or beside it) before a run: never read as "new", never a traceback
    "truncated": ('{"config": {"len', "not JSON"),
    "empty": ("", "not JSON"),
    "a list": ("[1, 2]", "channels: unrecorded there"),
    "a config that is a list": ('{"config": [1]}', "a record with no config: [1]"),
    "a config that is text": ('{"config": "abc"}', "a record with no config: 'abc'"),
    "too large": ('{"config": {}, "x": "' + "a" * (9 * 2**20) + '"}', "more than the"),
    "only its table": (None, "scan_accuracy.md is there without its record scan_accuracy.json"),
}


@pytest.mark.parametrize("damage", list(DAMAGED))
def test_a_damaged_or_missing_record_is_refused_in_one_line_and_replaced_when_asked(
    damage, tmp_path, monkeypatch, capsys
):
    from minrnn.bench import scan_accuracy

    monkeypatch.setattr(scan_accuracy, "measure_length", work)
    text, reason = DAMAGED[damage]
    path, table = tmp_path / "scan_accuracy.json", tmp_path / "scan_accuracy.md"
    table.write_text("another config's table\n")
    if text is not None:
        path.write_text(text)
    code, _, err = call("scan_accuracy", ["--out", str(tmp_path)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and reason in err and "--replace" in err, err
    assert table.read_text() == "another config's table\n" and (text is None) is not path.exists()
    with pytest.raises(Worked):  # --replace writes over what no run can read
        call("scan_accuracy", ["--out", str(tmp_path), "--replace"], capsys)


def test_a_folder_where_the_record_goes_is_refused_before_the_work_even_with_replace(tmp_path, monkeypatch, capsys):
    from minrnn.bench import scan_accuracy

    monkeypatch.setattr(scan_accuracy, "measure_length", work)
    (tmp_path / "scan_accuracy.json").mkdir()
    code, _, err = call("scan_accuracy", ["--out", str(tmp_path), "--replace"], capsys)
    assert code == 2 and "is a folder, where this run writes a file" in err and "Traceback" not in err, err
