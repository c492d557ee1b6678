"""docs/deviations.md is generated from the presets as they compose, against the paper's stated settings
(configs/paper_settings.yaml) and the declared deviations (configs/deviations.yaml): a composed setting
that differs from the paper's and is not declared stops it, naming the setting."""

import copy
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from torch import nn

from minrnn.reports import deviations

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = deviations.paper_settings()
ROWS = deviations.deviations()


def test_every_difference_from_the_paper_is_declared_and_every_row_names_a_preset():
    assert deviations.undeclared(SETTINGS, ROWS) == []
    assert deviations.unmatched(SETTINGS, ROWS) == []


def test_the_report_is_generated_from_the_presets_and_the_tables():
    assert (ROOT / "docs/deviations.md").read_text() == deviations.report(SETTINGS, ROWS)


def changed(preset: str, key: str, new):
    """deviations.composed, with ``key`` of ``experiment=<preset> scale=paper`` set to ``new``."""

    def compose(p, scale):
        config = deviations.composed(p, scale)
        if p != preset or scale != "paper":
            return config
        planted = OmegaConf.create(config)
        OmegaConf.update(planted, key, new)
        return OmegaConf.to_container(planted)

    return compose


def test_a_composed_setting_that_differs_undeclared_fails_naming_it():
    compose = changed("table2/mingru", "task.arch.dim", 32)
    with pytest.raises(deviations.UndeclaredDeviation) as e:
        deviations.report(SETTINGS, ROWS, compose)
    assert str(e.value) == (
        "experiment=table2/mingru scale=paper: task.arch.dim=32 differs from the paper's 64 "
        "(v1 C.2; v3 C.3 (number lost)) and configs/deviations.yaml does not declare it"
    )
    # a row declared for scale=cpu only does not cover scale=paper
    compose = changed("table3/minlstm", "trainer.max_steps", 50000)
    with pytest.raises(deviations.UndeclaredDeviation, match=r"table3/minlstm scale=paper: trainer.max_steps=50000"):
        deviations.report(SETTINGS, ROWS, compose)


def test_a_row_taken_out_of_the_declared_table_fails_naming_the_setting():
    rows = [r for r in ROWS if not (r["key"] == "trainer.optimizer" and r.get("scale") == "paper")]
    assert len(rows) == len(ROWS) - 1
    with pytest.raises(deviations.UndeclaredDeviation) as e:
        deviations.report(SETTINGS, rows)
    wanted = "experiment=table2/minlstm scale=paper: trainer.optimizer='adamw' differs from the paper's 'adam'"
    assert wanted in str(e.value)
    # a setting the paper states, added to its table, must be declared where it differs
    settings = copy.deepcopy(SETTINGS)
    settings["shakespeare"]["settings"].append({"key": "task.context", "value": 512, "v1": "-", "v3": "C.3"})
    assert deviations.undeclared(settings, ROWS) == []  # task.context is declared (nanoGPT's 256)
    settings["shakespeare"]["settings"][-1]["key"] = "task.md5"
    assert "figure2/mingru scale=paper: task.md5=" in deviations.undeclared(settings, ROWS)[0]


def test_a_row_that_names_no_preset_or_no_deviation_fails():
    rows = [*ROWS, {"preset": "table9/*", "key": "trainer.lr", "source": "ours", "why": "a typo"}]
    with pytest.raises(deviations.UndeclaredDeviation, match=r"preset 'table9/\*' \(trainer.lr\) matches none"):
        deviations.report(SETTINGS, rows)
    rows = [*ROWS, {"preset": "table2/*", "key": "task.vocab_size", "source": "ours", "why": "stale"}]
    assert deviations.unmatched(SETTINGS, rows) == [
        "configs/deviations.yaml: task.vocab_size of 'table2/*' is the paper's value: no deviation"
    ]


def test_the_script_refuses_an_undeclared_setting_in_one_line(tmp_path, monkeypatch, capsys):
    """scripts/make_deviations.py's command (minrnn.cli.run): one line, exit 2, nothing written."""
    import argparse

    from minrnn import cli

    monkeypatch.setattr(deviations, "deviations", lambda: ROWS[:1])
    ap = argparse.ArgumentParser(prog="make_deviations.py")
    deviations.add_arguments(ap)
    assert cli.run(deviations.run, ap, ["--out", str(tmp_path / "d.md")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("make_deviations.py: error: experiment=") and "\n" not in err
    assert not (tmp_path / "d.md").exists()


def test_the_mlp_activation_row_is_what_the_block_builds():
    """configs/deviations.yaml's `MLP activation` row (a setting the code fixes): GELU."""
    from minrnn.blocks import MLP

    (row,) = [r for r in ROWS if r["key"] == "MLP activation"]
    assert row["ours"].startswith("GELU")
    assert [type(m) for m in MLP(8, 2, 0.0).net if not isinstance(m, (nn.Linear, nn.Dropout))] == [nn.GELU]


def test_every_preset_on_disk_is_compared_or_named_not_compared_with_why():
    """A preset added under configs/experiment/ that no experiment compares would escape every comparison:
    it stops the generator, naming it; so does a not_compared row that names no preset or a compared one."""
    on_disk = deviations.presets_on_disk()
    skipped = deviations.not_compared()
    compared = {p for e in SETTINGS.values() for p in e["presets"]}
    assert compared <= set(on_disk) and "table2/mamba" in compared
    assert deviations.uncompared(SETTINGS, skipped, on_disk) == []
    with pytest.raises(deviations.UndeclaredDeviation, match=r"^experiment=table2/rwkv: compared by no experiment"):
        deviations.report(SETTINGS, ROWS, on_disk=[*on_disk, "table2/rwkv"])
    assert deviations.uncompared(SETTINGS, [*skipped, {"preset": "table9", "why": "x"}], on_disk) == [
        "configs/deviations.yaml: not_compared 'table9' names no preset"
    ]
    assert deviations.uncompared(SETTINGS, [*skipped, {"preset": "table2/*", "why": "x"}], on_disk)[0].startswith(
        "configs/deviations.yaml: not_compared 'table2/*' names compared presets (table2/gru, table2/lstm, "
    )


@given(st.from_regex(r"(table[1-9]|figure[25]|recall|claims)/[a-z_]{1,12}", fullmatch=True))
@settings(max_examples=40, deadline=None)
def test_any_new_preset_name_is_refused_unless_compared_or_skipped(name):
    on_disk = deviations.presets_on_disk()
    compared = {p for e in SETTINGS.values() for p in e["presets"]}
    skipped = deviations.not_compared()
    found = deviations.uncompared(SETTINGS, skipped, [*on_disk, name])
    escapes = name not in compared and not any(deviations.covers(s, name) for s in skipped)
    assert (f"experiment={name}: compared by no experiment" in " ".join(found)) == escapes
