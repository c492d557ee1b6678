import pytest
from harness import compose_cfg, tiny

from minrnn.harness import wandb_logger
from minrnn.harness.train import run

CLOSED = "http://127.0.0.1:9"  # a loopback port nothing listens on: refused at once, no traffic leaves


def test_online_without_a_network_falls_back_to_offline_says_so_once_and_trains(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_BASE_URL", CLOSED)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-home"))
    monkeypatch.delenv("WANDB_MODE", raising=False)
    import wandb

    modes, init = [], wandb.init  # W&B is started once, offline: no online attempt to wait out (not a clock)
    monkeypatch.setattr(wandb, "init", lambda **kw: modes.append(kw["mode"]) or init(**kw))
    done = run(compose_cfg([*tiny(tmp_path, "trainer.max_steps=3"), "logger.mode=online", "logger.project=t"]))
    assert modes == ["offline"] and done["metrics"]["steps"] == 3
    err = capsys.readouterr().err
    assert err.count(f"cannot reach {CLOSED}; logging offline") == 1
    assert list((tmp_path / "runs" / done["run_name"] / "wandb").glob("offline-run-*"))


@pytest.mark.parametrize(
    "mode,env,expected",
    [
        ("online", "offline", "offline"),
        ("online", None, "online"),
        ("offline", "online", "offline"),
        ("online", "disabled", "disabled"),
        ("disabled", "online", "disabled"),
    ],
)
def test_the_more_offline_of_logger_mode_and_wandb_mode_wins(monkeypatch, mode, env, expected):
    if env is None:
        monkeypatch.delenv("WANDB_MODE", raising=False)
    else:
        monkeypatch.setenv("WANDB_MODE", env)
    assert wandb_logger.effective_mode(mode) == expected


def test_a_wandb_failure_mid_run_loses_nothing(tmp_path, monkeypatch, capsys):
    import wandb

    class Broken:
        def log(self, *a, **k):
            raise wandb.errors.CommError("connection reset")

        def finish(self):
            raise AssertionError("finish is not called once logging failed")

    monkeypatch.setattr(wandb, "init", lambda **k: Broken())
    monkeypatch.setenv("WANDB_MODE", "offline")
    done = run(compose_cfg([*tiny(tmp_path), "logger.mode=offline"]))
    assert done["metrics"]["steps"] == 6 and (tmp_path / f"results/{done['run_name']}.json").exists()
    assert capsys.readouterr().err.count("log failed (CommError: connection reset); W&B logging is off") == 1
