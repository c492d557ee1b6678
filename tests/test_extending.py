"""docs/extending.md followed from outside the package: its files written to a tmp dir (the page's
``doc-block: file`` blocks), its folders put on PYTHONPATH and $MINRNN_CONFIGS exactly as its commands do,
and its commands run (tests/doc_pages.py). Only settings that keep a test short are added, each below."""

import json
import sys
from pathlib import Path

import pytest
import torch
from doc_pages import ROOT, Call, check_train, recipe_block, run_python, run_shell, write_files
from harness import tiny

PAGE = ROOT / "docs" / "extending.md"
HERE = "tests/test_extending.py::"


def recipe(request) -> str:
    """The page's block that the calling test follows (``doc-block: recipe tests/test_extending.py::<it>``)."""
    return recipe_block(PAGE, HERE + request.node.originalname)


def with_settings(minrnn_train: str = "", bench: str = "", figure: str = "") -> str:
    """Bash functions that append test settings to the page's commands (speed and where files go only)."""
    return (
        'minrnn-train() { command minrnn-train "$@" logger.mode=disabled trainer.progress=false threads=1 '
        f"{minrnn_train}; }}\n"
        f'python() {{ case "$1" in scripts/bench_training.py) command python "$@" {bench};; '
        f'scripts/make_figure1_3_4.py) command python "$@" {figure};; *) command python "$@";; esac; }}\n'
    )


@pytest.fixture
def page(tmp_path):
    """A folder like the repository's root for the page's commands: its files, and scripts/."""
    write_files(PAGE, tmp_path)
    (tmp_path / "scripts").symlink_to(ROOT / "scripts")
    return tmp_path


def test_the_model_recipe_trains_and_shows_up_in_table_2_and_figure_1(page, request):
    """The page's three commands as written (Table 2's full 2,500 steps: the row needs exactly its setting)."""
    bench = f"--lengths 16 --batch 2 --repeats 1 --in-process --out {page}/results/efficiency"
    figure = f"--results {page}/results/efficiency"  # (the defaults are the repository's results/efficiency)
    done = run_shell(with_settings(bench=bench, figure=figure) + recipe(request), page, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (summary,) = (page / "results/selective_copy/cpu").glob("toy-L3-s0-*.json")
    record = json.loads(summary.read_text())
    assert record["implementation"] == "ToyModel" and record["metrics"]["steps"] == 2500
    row = next(r for r in (page / "results/tables/table2_cpu.md").read_text().splitlines() if "Toy (ours)" in r)
    accuracy = row.split("|")[3].strip()
    assert row.startswith("| Toy (ours) | Toy | ")
    assert accuracy.split()[0] == f"{100 * record['metrics']['test_acc']:.1f}"
    measured = (page / "results/efficiency/training_cpu.csv").read_text()
    assert {line.split(",")[0] for line in measured.splitlines()[1:]} == {"Toy", "minGRU"}
    assert (page / "results/efficiency/training_cpu.png").exists()
    assert "Toy" in (page / "results/efficiency/efficiency_cpu.md").read_text()


def test_the_schema_block_declares_the_toy_models_own_key(page):
    call = Call([], {"MINRNN_CONFIGS": str(page / "my_configs"), "PYTHONPATH": str(page / "my_models")}, page)
    check_train(["experiment=table2", "model=toy_scaled"], call)
    with pytest.raises(AssertionError, match=r"model.net.scale=0.0: must be a finite number > 0"):
        check_train(["experiment=table2", "model=toy_scaled", "model.net.scale=0.0"], call)
    with pytest.raises(AssertionError, match=r"unknown key model.net.scale"):  # declared in toy_scaled.yaml only
        check_train(["experiment=table2", "model=toy", "+model.net.scale=2.0"], call)
    with pytest.raises(AssertionError, match=r"unknown key model.net.kernel"):  # neither declared nor taken
        check_train(["experiment=table2", "model=toy_scaled", "+model.net.kernel=3"], call)


def test_the_layer_recipe_trains_minrnn_train_with_the_layer(page, request, monkeypatch):
    settings = " ".join(tiny(page)[2:])  # logger and progress: with_settings
    done = run_shell(with_settings(minrnn_train=settings) + recipe(request), page)
    assert done.returncode == 0, done.stderr[-3000:]
    (summary,) = (page / "results/selective_copy/cpu").glob("mingru-mylayer-L2-s0-*.json")
    assert json.loads(summary.read_text())["metrics"]["steps"] == 6
    call = Call([], {"PYTHONPATH": str(page / "my_models")}, page)
    with pytest.raises(AssertionError, match=r"rnn_kwargs.log_space: MyLayer does not take it .*'~model.net.block"):
        check_train(["experiment=table2", "model=mingru", "model.net.block.rnn=my_layer.MyLayer"], call)
    monkeypatch.syspath_prepend(str(page / "my_models"))
    monkeypatch.delitem(sys.modules, "my_layer", raising=False)
    from my_layer import MyLayer

    torch.manual_seed(0)
    layer, x = MyLayer(3, 5).double(), torch.randn(2, 7, 3, dtype=torch.float64)
    h0 = torch.randn(2, 5, dtype=torch.float64)
    steps, h = [], h0
    for t in range(7):
        steps.append(h := layer.step(x[:, t], h))
    torch.testing.assert_close(layer(x, h0), torch.stack(steps, 1), rtol=0, atol=1e-12)  # parallel == sequential


def test_the_task_recipe_composes_yields_batches_and_trains(page, request, monkeypatch):
    env = {"MINRNN_CONFIGS": str(page / "my_configs"), "PYTHONPATH": str(page / "my_tasks")}
    check_train(["model=mingru", "task=parity"], Call([], env, page))
    with pytest.raises(AssertionError, match=r"task.seq_len=0: must be an integer >= 1"):
        check_train(["model=mingru", "task=parity", "task.seq_len=0"], Call([], env, page))
    monkeypatch.syspath_prepend(str(page / "my_tasks"))
    monkeypatch.delitem(sys.modules, "parity", raising=False)
    from parity import Parity

    task = Parity(seq_len=12, seed=3)
    x, y = task.train_batch(5, step=7)
    assert torch.equal(x, task.train_batch(5, step=7)[0]) and not torch.equal(x, task.train_batch(5, step=8)[0])
    assert all(int(y[i, t]) == int(x[i, : t + 1].sum()) % 2 for i in range(5) for t in range(12))
    (vx, _), (vx2, _) = task.eval_batches("val")[0], task.eval_batches("val")[0]
    assert torch.equal(vx, vx2) and not torch.equal(vx, task.eval_batches("test")[0][0])
    perfect = torch.nn.functional.one_hot(y, 2).float() * 10
    assert task.metrics(perfect, y)["acc"] == 5.0

    settings = f"trainer.max_steps=6 trainer.eval_every=3 paths.runs={page}/runs paths.results={page}/results"
    done = run_shell(with_settings(minrnn_train=settings) + recipe(request), page)
    assert done.returncode == 0, done.stderr[-3000:]
    (summary,) = (page / "results/parity/cpu").glob("mingru-L2-s0-*.json")
    metrics = json.loads(summary.read_text())["metrics"]
    assert metrics["steps"] == 6 and 0 <= metrics["test_acc"] <= 1


def test_the_backend_recipe_runs_the_layer_equal_to_sequential(page, request):
    """The page's Python, in a fresh interpreter with my_backends on PYTHONPATH; it asserts its own values."""
    code = recipe(request)
    done = run_python(code, page, env={"PYTHONPATH": str(page / "my_backends")})
    assert done.returncode == 0, done.stderr[-3000:]
    assert Path(page / "my_backends/toy_backend.py").is_file()
