import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from harness import compose_cfg, tiny

from minrnn.harness.records import RESULT_KEYS
from minrnn.harness.train import run
from minrnn.harness.trainer import TrainingError

ROOT = Path(__file__).resolve().parent.parent


def test_a_run_writes_its_summary_with_provenance(tmp_path):
    summary = run(compose_cfg(tiny(tmp_path)))
    assert summary["run_name"] == f"selective_copy/cpu/mingru-L2-s0-{summary['identity']}"
    path = tmp_path / f"results/{summary['run_name']}.json"
    saved = json.loads(path.read_text())
    assert set(RESULT_KEYS) <= saved.keys() and saved == json.loads(json.dumps(summary))
    assert saved["metrics"]["steps"] == 6 and [h["step"] for h in saved["metrics"]["val_history"]] == [3, 6]
    assert saved["provenance"]["torch"] == torch.__version__ and saved["config"]["task"]["seq_len"] == 8
    lines = [json.loads(x) for x in (tmp_path / f"runs/{summary['run_name']}/metrics.jsonl").open()]
    assert [x["step"] for x in lines if "train_loss" in x] == [2, 4, 6]


def test_provenance_names_the_code_the_run_started_with(tmp_path, monkeypatch):
    import minrnn.harness.records as records
    import minrnn.harness.train as train

    checkout = ["abc123"]
    monkeypatch.setattr(records, "git_commit", lambda: checkout[0])
    fit = train.fit

    def fit_then_edit(*args, **kwargs):  # someone edits the checkout while the run trains
        out = fit(*args, **kwargs)
        checkout[0] = "abc123-dirty"
        return out

    monkeypatch.setattr(train, "fit", fit_then_edit)
    summary = run(compose_cfg(tiny(tmp_path)))
    assert summary["provenance"]["git_commit"] == "abc123" and checkout[0] == "abc123-dirty"


def test_rerunning_resumes_and_matches_an_uninterrupted_run(tmp_path):
    straight = run(compose_cfg(tiny(tmp_path / "a")))["metrics"]
    run(compose_cfg(tiny(tmp_path / "b", "trainer.max_steps=3")))  # "crashes" after its step-3 checkpoint
    resumed = run(compose_cfg(tiny(tmp_path / "b")))["metrics"]
    for key in ("val_history", "best_val", "best_step", "test_acc", "test_loss"):
        assert resumed[key] == straight[key], key


def test_a_run_of_another_config_gets_its_own_directory_and_results_file(tmp_path):
    first = run(compose_cfg(tiny(tmp_path)))
    trial = run(compose_cfg(tiny(tmp_path, "trainer.max_steps=3")))  # neither resumes nor overwrites
    assert trial["identity"] != first["identity"] and trial["metrics"]["steps"] == 3
    assert json.loads((tmp_path / f"results/{first['run_name']}.json").read_text())["metrics"]["steps"] == 6
    seed1 = run(compose_cfg(tiny(tmp_path, "seed=1", "trainer.max_steps=3")))
    assert seed1["identity"] == trial["identity"] and seed1["run_name"] != trial["run_name"]  # seeds share it
    assert compose_cfg(tiny(tmp_path, "trainer.log_every=1", "threads=1")).run_name == first["run_name"]


def test_a_results_file_of_another_config_is_never_overwritten(tmp_path):
    first = run(compose_cfg(tiny(tmp_path)))
    path = tmp_path / f"results/{first['run_name']}.json"
    before = path.read_bytes()
    with pytest.raises(ValueError, match="holds the result of another config; not overwritten"):
        run(
            compose_cfg(
                tiny(tmp_path, "trainer.max_steps=3", f"run_name={first['run_name']}", f"paths.runs={tmp_path}/b")
            )
        )
    assert path.read_bytes() == before


def test_rerunning_a_migrated_committed_run_may_replace_it(tmp_path):
    """Summaries renamed by the migration carry their identity in the file name only (no field)."""
    first = run(compose_cfg(tiny(tmp_path)))
    path = tmp_path / f"results/{first['run_name']}.json"
    legacy = {k: v for k, v in json.loads(path.read_text()).items() if k != "identity"}
    legacy["config"]["trainer"].pop("keep")  # an option added after the run: its config hash differs
    path.write_text(json.dumps(legacy))
    kept = run(compose_cfg(tiny(tmp_path, f"paths.runs={tmp_path}/again")))  # finished: recognised, not retrained
    assert kept == legacy and not (tmp_path / "again").exists()
    again = run(compose_cfg(tiny(tmp_path, f"paths.runs={tmp_path}/again", "trainer.force=true")))
    assert json.loads(path.read_text())["identity"] == again["identity"] == first["identity"]


def test_an_object_that_is_not_a_task_is_refused(tmp_path, monkeypatch):
    from minrnn.tasks.selective_copy import SelectiveCopy

    monkeypatch.delattr(SelectiveCopy, "metrics")
    with pytest.raises(ValueError, match="SelectiveCopy does not implement the Task protocol"):
        run(compose_cfg(tiny(tmp_path)))


def test_a_checkpoint_from_another_config_is_refused(tmp_path):
    first = run(compose_cfg(tiny(tmp_path, "trainer.max_steps=3")))
    with pytest.raises(TrainingError, match="different model or config"):
        run(compose_cfg(tiny(tmp_path, "task.arch.expansion=3", f"run_name={first['run_name']}")))
    ckpt = tmp_path / f"runs/{first['run_name']}/checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.raises(TrainingError, match="cannot read checkpoint"):
        run(compose_cfg(tiny(tmp_path, "trainer.max_steps=3", "trainer.force=true")))  # finished: forced


def test_an_unknown_task_key_is_named_with_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown key task.seq_lenn=10 \(did you mean task.seq_len\?\); task takes: "):
        run(compose_cfg(tiny(tmp_path, "+task.seq_lenn=10")))


def test_a_tiny_model_learns_selective_copying(tmp_path):
    extra = (
        "task.arch.dim=32",
        "trainer.batch_size=16",
        "trainer.max_steps=400",
        "trainer.eval_every=200",
        "trainer.lr=3e-3",
        "task.eval_batches=4",
    )
    m = run(compose_cfg(tiny(tmp_path, *extra)))
    assert m["metrics"]["test_acc"] > 0.9, m["metrics"]["test_acc"]  # chance is 1/14


def test_non_divisible_accumulation_is_named(tmp_path):
    with pytest.raises(ValueError, match="batch_size=8 is not divisible by trainer.grad_accum=3"):
        run(compose_cfg(tiny(tmp_path, "trainer.grad_accum=3")))


def cli(*args, tmp):
    return subprocess.run(
        [sys.executable, "-m", "minrnn.harness.train", *args, *tiny(tmp)], cwd=ROOT, capture_output=True, text=True
    )


def test_cli_unknown_model_lists_the_valid_names(tmp_path):
    out = cli("model=rwkv", tmp=tmp_path)
    assert out.returncode != 0 and "Could not find 'model/rwkv'" in out.stderr
    assert "mingru" in out.stderr and "transformer" in out.stderr


def test_cli_clashing_values_are_named(tmp_path):
    out = cli("model=transformer", "task.arch.heads=5", tmp=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "model.net.dim=16 (task.arch.dim): must be divisible by model.net.heads=5" in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_multirun_with_the_local_launcher(tmp_path):
    out = cli("-m", "seed=0,1", "model=mingru,transformer", "hydra/launcher=local", "threads=1", tmp=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    got = sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "results/selective_copy/cpu").glob("*.json"))
    assert got == ["mingru-L2-s0", "mingru-L2-s1", "transformer-L2-s0", "transformer-L2-s1"]


def test_wandb_offline_run_lands_in_the_run_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-home"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    done = run(compose_cfg([*tiny(tmp_path, "trainer.max_steps=3"), "logger.mode=offline"]))
    runs = list((tmp_path / f"runs/{done['run_name']}/wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1 and runs[0].stat().st_size > 0


def test_unknown_logger_mode_is_named(tmp_path):
    with pytest.raises(ValueError, match="logger.mode='cloud': must be one of online, offline, disabled"):
        run(compose_cfg([*tiny(tmp_path), "logger.mode=cloud"]))


def test_cli_hydra_run_dir_is_the_run_directory(tmp_path):
    out = cli(f"hydra.run.dir={tmp_path}/elsewhere", tmp=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "elsewhere/checkpoint.pt").exists() and (tmp_path / "elsewhere/metrics.jsonl").exists()
    assert not (tmp_path / "runs").exists()
    summary = json.loads((tmp_path / "elsewhere/summary.json").read_text())
    assert summary["run_dir"] == f"{tmp_path}/elsewhere"


def test_a_fresh_start_drops_the_log_of_a_run_killed_before_its_first_checkpoint(tmp_path):
    run_dir = tmp_path / "runs" / compose_cfg(tiny(tmp_path)).run_name
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.jsonl").write_text('{"step": 2, "train_loss": 9.0}\n{"step": 4, "train_loss": 9.0}\n')
    run(compose_cfg(tiny(tmp_path)))
    steps = [json.loads(x)["step"] for x in (run_dir / "metrics.jsonl").open() if "train_loss" in x]
    assert steps == [2, 4, 6]  # once each, from this run


def test_compiled_training_equals_eager_training(tmp_path):
    """trainer.compile=true runs the training forward through torch.compile (fullgraph-able custom ops):
    the same run, to rounding; compile is not part of a run's identity."""
    no_dropout = ["task.arch.rnn_dropout=0"]  # compiled dropout draws other random numbers
    eager = run(compose_cfg(tiny(tmp_path / "eager", *no_dropout)))
    compiled = run(compose_cfg(tiny(tmp_path / "compiled", *no_dropout, "trainer.compile=true")))
    assert compiled["identity"] == eager["identity"]
    a, b = eager["metrics"], compiled["metrics"]
    for x, y in zip(a["val_history"], b["val_history"], strict=True):
        assert x["step"] == y["step"] and x["val_loss"] == pytest.approx(y["val_loss"], rel=1e-4, abs=1e-5)
    assert b["test_loss"] == pytest.approx(a["test_loss"], rel=1e-4, abs=1e-5)
    lines = (tmp_path / "compiled" / "runs" / compiled["run_name"] / "metrics.jsonl").read_text()
    assert '"train_loss"' in lines


def test_decay_rnn_false_exempts_the_minrnn_projections_from_weight_decay_as_the_authors_code():
    from types import SimpleNamespace

    from minrnn import SequenceModel
    from minrnn.harness.trainer import build_optimizer

    model = SequenceModel(dim=8, depth=1, vocab_size=5, dim_out=5, block=dict(rnn="mingru", mlp=True))
    rnn = model.blocks[0].rnn
    cfg = SimpleNamespace(weight_decay=0.05, optimizer="adamw", lr=1e-3, betas=(0.9, 0.999))
    decay, _ = build_optimizer(model, cfg).param_groups
    assert any(p is rnn.linear_z.weight for p in decay["params"])  # the default: every matrix
    cfg.decay_rnn = False
    decay, no_decay = build_optimizer(model, cfg).param_groups
    assert not any(p is rnn.linear_z.weight or p is rnn.linear_h.weight for p in decay["params"])
    assert any(p is rnn.linear_h.weight for p in no_decay["params"])
    assert any(p is model.blocks[0].down.weight for p in decay["params"])  # the rest still decays


@pytest.mark.parametrize("tag", ["/../../../../x", "/../../../../../../../../../tmp/escaped", "-a/../../../../../b"])
def test_cli_a_tag_never_writes_outside_results_and_runs(tmp_path, tag):
    work = tmp_path / "a" / "b" / "c"
    work.mkdir(parents=True)
    before = sorted(p for p in tmp_path.rglob("*"))
    out = cli(f"tag={tag}", tmp=work)
    assert out.returncode == 2 and f"tag={tag!r}: must be letters, digits" in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr and out.stderr.count("\n") == 1
    assert sorted(p for p in tmp_path.rglob("*")) == before  # not even Hydra's run folder


@pytest.mark.parametrize("name", ["../x", "a/../../b", "/tmp/escaped"])
def test_a_run_name_past_the_schema_is_still_kept_inside_results_and_runs(tmp_path, name):
    """The second guard (train.contained, minrnn.files.inside) holds where the schema's name rule would not."""
    from omegaconf import OmegaConf

    from minrnn.files import PathError
    from minrnn.harness.train import contained

    cfg = OmegaConf.create({"run_name": name, "paths": {"results": str(tmp_path / "r"), "runs": str(tmp_path / "w")}})
    with pytest.raises(PathError, match="would be written outside"):
        contained(cfg)


def test_a_relative_results_folder_gets_the_summary_where_it_names(tmp_path, monkeypatch):
    """paths.results=results (the default) wrote results/<task>/<scale>/results/<task>/<scale>/<run>.json, where
    no table looked (issue #36: docs/extending.md's Table 2 row appeared only with an absolute path)."""
    from minrnn.harness.train import write_result

    monkeypatch.chdir(tmp_path)
    (tmp_path / "results/copy/cpu").mkdir(parents=True)
    write_result(Path("results/copy/cpu/run.json"), {"identity": "abc", "seed": 0})
    assert json.loads((tmp_path / "results/copy/cpu/run.json").read_text()) == {"identity": "abc", "seed": 0}
    assert not (tmp_path / "results/copy/cpu/results").exists()
