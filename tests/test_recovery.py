"""Recovery (issue 26): a resume past a torn log line, a failed checkpoint write that leaves nothing
behind, a checkpoint that no longer fits, a resume across a code change, an impossible memory need,
an output folder that cannot be written, and temporary files that never land in results/."""

import json
import subprocess
from pathlib import Path

import pytest
import torch
from harness import compose_cfg, tiny

from minrnn.harness import records, trainer
from minrnn.harness.train import run
from minrnn.harness.trainer import TrainingError
from minrnn.reports import render

ROOT = Path(__file__).resolve().parent.parent


def run_dir(tmp: Path, summary: dict) -> Path:
    return tmp / "runs" / summary["run_name"]


def test_a_torn_last_log_line_is_dropped_and_the_run_resumes(tmp_path, capsys):
    first = run(compose_cfg(tiny(tmp_path, "trainer.max_steps=3")))
    log = run_dir(tmp_path, first).parent / first["run_name"].rsplit("/", 1)[1] / "metrics.jsonl"
    with open(log, "a") as f:
        f.write('{"step": 4, "train_lo')  # a kill or a full disk mid-write
    # the same config and run directory (its result exists, so forced): resume the same one
    summary = run(compose_cfg(tiny(tmp_path, "trainer.max_steps=3", "trainer.force=true")))
    assert summary["metrics"]["steps"] == 3 and "dropped 1 torn line" in capsys.readouterr().out
    assert all(json.loads(line) for line in log.read_text().splitlines())


def test_a_checkpoint_write_that_fails_leaves_no_partial_file_and_is_one_message(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    trainer.save_checkpoint(path, {"step": 1})
    real_save = torch.save

    def disk_full(obj, f):
        real_save(obj, f)  # part of it written, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(TrainingError, match="No space left on device.*previous checkpoint is intact"):
        trainer.save_checkpoint(path, {"step": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
    assert torch.load(path, weights_only=True)["step"] == 1


def test_a_checkpoint_that_no_longer_fits_the_code_is_one_message(tmp_path):
    summary = run(compose_cfg(tiny(tmp_path, "trainer.max_steps=3")))
    ckpt_path = run_dir(tmp_path, summary) / "checkpoint.pt"
    ckpt = torch.load(ckpt_path, weights_only=True)
    ckpt["model"] = {"renamed.weight": torch.zeros(1)}  # an older format, or parameters since renamed
    torch.save(ckpt, ckpt_path)
    with pytest.raises(TrainingError, match="does not fit this code's model or format"):
        run(compose_cfg(tiny(tmp_path, "trainer.max_steps=3", "trainer.force=true")))


def test_a_resume_across_a_code_change_says_so_and_the_result_keeps_every_stretch(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(records, "git_commit", lambda: "aaaa")
    run(compose_cfg(tiny(tmp_path, "trainer.max_steps=6", "trainer.checkpoint_every=3", "trainer.eval_every=3")))
    ckpt_path = next((tmp_path / "runs").rglob("checkpoint.pt"))
    ckpt = torch.load(ckpt_path, weights_only=True)
    assert ckpt["commit"] == "aaaa" and ckpt["stretches"][-1]["to_step"] == 6
    ckpt["step"], ckpt["data_position"] = 3, 3  # as if killed at step 3
    ckpt["stretches"][-1]["to_step"] = 3
    torch.save(ckpt, ckpt_path)
    (tmp_path / "results").rename(tmp_path / "old-results")
    monkeypatch.setattr(records, "git_commit", lambda: "bbbb")
    summary = run(
        compose_cfg(tiny(tmp_path, "trainer.max_steps=6", "trainer.checkpoint_every=3", "trainer.eval_every=3"))
    )
    assert "written by commit aaaa with code at bbbb" in capsys.readouterr().out
    stretches = summary["metrics"]["stretches"]
    assert [(s["commit"], s["from_step"], s["to_step"]) for s in stretches] == [("aaaa", 0, 3), ("bbbb", 3, 6)]
    assert summary["metrics"]["train_seconds_all_stretches"] == pytest.approx(sum(s["seconds"] for s in stretches))


def test_an_impossible_memory_need_is_one_message_before_the_first_step(tmp_path):
    with pytest.raises(ValueError, match=r"needs at least .* GiB .* 65536 x length 1\.6e\+07"):
        run(compose_cfg(tiny(tmp_path, "task.seq_len=16000000", "trainer.batch_size=65536")))
    assert not list((tmp_path / "runs").rglob("metrics.jsonl"))


def test_a_results_folder_that_cannot_be_written_is_found_before_training(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results/selective_copy").write_text("a file where the task's folder goes")
    with pytest.raises(ValueError, match="is not a folder"):
        run(compose_cfg(tiny(tmp_path)))
    assert not list((tmp_path / "runs").rglob("metrics.jsonl"))


def test_figures_are_written_under_names_of_their_own_and_leave_nothing_on_failure(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seen = []
    fig = plt.figure()
    real = fig.savefig
    monkeypatch.setattr(fig, "savefig", lambda p, **kw: (seen.append(Path(p).name), real(p, **kw)))
    render.save_figure(fig, tmp_path / "fig.png")
    fig2 = plt.figure()
    monkeypatch.setattr(fig2, "savefig", lambda p, **kw: (seen.append(Path(p).name), real(p, **kw)))
    render.save_figure(fig2, tmp_path / "fig.png")
    assert len(set(seen)) == 4  # two writers of the same figure never share a temporary name
    fig3 = plt.figure()

    def broken(p, **kw):
        Path(p).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fig3, "savefig", broken)
    with pytest.raises(OSError):
        render.save_figure(fig3, tmp_path / "other.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.pdf", "fig.png"]


def test_temporary_files_in_results_are_never_committed():
    for name in ("results/tables/.table1_cpu.md.abc123.tmp", "results/selective_copy/cpu/.x.json.tmp"):
        out = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT)
        assert out.returncode == 0, name
    assert subprocess.run(["git", "check-ignore", "-q", "results/tables/table1_cpu.md"], cwd=ROOT).returncode == 1
