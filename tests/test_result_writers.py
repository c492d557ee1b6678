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
    # committed before its config was recorded: every capability, not --quick
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
