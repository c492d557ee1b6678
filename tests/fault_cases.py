"""The cases of the fault-injection suite (tests/fault_injection.py): the tiny run every trial trains, and
the catalogue of bad inputs (unknown names, impossible settings, missing or corrupt data, foreign or
truncated checkpoints, empty or corrupt results) with the set-ups that make their files. Each bad input
must get one clear message, a non-zero exit, no traceback, and leave every file that existed unchanged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

RUN = "selective_copy/cpu/mingru-L2-s0"
STEPS = 300


def train_argv(tmp: Path, *extra: str) -> list[str]:
    """A tiny deterministic run, checkpointed every step, slow enough (~2 s) to be hit mid-way."""
    steps = f"threads=1 trainer.deterministic=true trainer.max_steps={STEPS} trainer.eval_every=50 trainer.log_every=1"
    return [*(w.replace("{tmp}", str(tmp)) for w in TINY), *steps.split(), "trainer.checkpoint_every=1", *extra]


# ---- bad input ------------------------------------------------------------------------------------------


@dataclass
class BadInput:
    name: str
    argv: list[str]  # {tmp} is replaced by the trial's folder
    expect: str  # a regex the error message must match
    setup: str = ""  # a name in SETUPS, run before (its files must survive unchanged)
    succeeds: bool = False  # the right result: exit 0 with the message (a migrated file); files may change


def _setup_run(tmp: Path) -> None:
    """A finished tiny run: a checkpoint, a metrics log and a results file to protect."""
    subprocess.run(train_argv(tmp, "trainer.max_steps=4", "trainer.eval_every=2"), check=True, capture_output=True)


def _truncate_checkpoint(tmp: Path) -> None:
    _setup_run(tmp)
    ckpt = tmp / "runs" / RUN / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])


def _corrupt_results(tmp: Path) -> None:
    _setup_run(tmp)
    (tmp / "results" / "selective_copy" / "cpu" / "broken.json").write_text('{"config": ')


def _results_without_provenance(tmp: Path) -> None:
    folder = tmp / "results" / "selective_copy" / "cpu"
    folder.mkdir(parents=True)
    (folder / "typed.json").write_text(json.dumps({"config": {}, "seed": 0, "scale": "cpu", "metrics": {}}))


def _wrong_corpus(tmp: Path) -> None:
    (tmp / "shakespeare.txt").write_text("not the corpus\n" * 100)


def _non_finite_results(tmp: Path) -> None:
    _setup_run(tmp)
    rec = json.loads((tmp / "results" / f"{RUN}.json").read_text())
    rec["metrics"]["test_acc"] = float("nan")
    (tmp / "results" / "selective_copy" / "cpu" / "nan.json").write_text(json.dumps(rec))


def _file_for_a_folder(tmp: Path) -> None:
    (tmp / "a-file").write_text("not a folder\n")


_HOLDERS: list[subprocess.Popen] = []  # their stdin stays open as long as this process lives


def _run_in_use(tmp: Path) -> None:
    """A live process holding the run's directory until this process ends (its stdin closes): not for a
    fixed time, which a loaded machine could spend before the trial's run reaches the lock."""
    hold = (
        "import sys; from minrnn.harness.run_lock import RunLock; lock = RunLock(sys.argv[1]).__enter__(); "
        "print('held', flush=True); sys.stdin.read()"
    )
    argv = [sys.executable, "-c", hold, str(tmp / "runs" / RUN)]
    holder = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    _HOLDERS.append(holder)
    assert holder.stdout.readline().strip() == "held"


def _planted_summary(tmp: Path) -> None:
    """A run whose summary.json someone rewrote to name a class of their choosing."""
    _setup_run(tmp)
    path = tmp / "runs" / RUN / "summary.json"
    rec = json.loads(path.read_text())
    rec["config"]["model"]["net"]["_target_"] = "subprocess.Popen"
    path.write_text(json.dumps(rec))


def _checkpoint_of_another_format(tmp: Path) -> None:
    """A finished run whose checkpoint's parameters no longer fit the code (renamed since, or older)."""
    import torch

    _setup_run(tmp)
    path = tmp / "runs" / RUN / "checkpoint.pt"
    ckpt = torch.load(path, weights_only=True)
    ckpt["model"] = {"renamed.weight": torch.zeros(1)}
    torch.save(ckpt, path)


def _checkpoint_without_bad_evals(tmp: Path) -> None:
    """Issue 34: a checkpoint of an older minrnn (no format key, no bad_evals) ended in KeyError."""
    import torch

    _setup_run(tmp)
    path = tmp / "runs" / RUN / "checkpoint.pt"
    ckpt = torch.load(path, weights_only=True)
    del ckpt["bad_evals"], ckpt["format"]
    torch.save(ckpt, path)


def _d4rl_file(tmp: Path, drop: str = "", rows: int = 50, truncate: bool = False) -> None:
    import h5py
    import numpy as np

    path = tmp / "hopper_medium-v2.hdf5"
    with h5py.File(path, "w") as f:
        arrays = {"observations": np.zeros((50, 11)), "actions": np.zeros((rows, 3)), "rewards": np.zeros(50)}
        arrays |= {"terminals": np.zeros(50, bool), "timeouts": np.eye(1, 50, 49, dtype=bool)[0]}
        for k, v in arrays.items():
            if k != drop:
                f[k] = v
    if truncate:
        path.write_bytes(path.read_bytes()[:1000])


SETUPS = {
    "checkpoint_without_bad_evals": _checkpoint_without_bad_evals,
    "d4rl_truncated": lambda tmp: _d4rl_file(tmp, truncate=True),
    "d4rl_missing_dataset": lambda tmp: _d4rl_file(tmp, drop="rewards"),
    "d4rl_mismatched_lengths": lambda tmp: _d4rl_file(tmp, rows=49),
    "planted_summary": _planted_summary,
    "checkpoint_of_another_format": _checkpoint_of_another_format,
    "run": _setup_run,
    "truncated_checkpoint": _truncate_checkpoint,
    "corrupt_results": _corrupt_results,
    "results_without_provenance": _results_without_provenance,
    "wrong_corpus": _wrong_corpus,
    "non_finite_results": _non_finite_results,
    "file_for_a_folder": _file_for_a_folder,
    "run_in_use": _run_in_use,
}
TRAIN = [sys.executable, "-m", "minrnn.harness.train"] + (
    "logger.mode=disabled trainer.progress=false paths.runs={tmp}/runs paths.results={tmp}/results "
    "trainer.max_steps=4 trainer.eval_every=2"
).split()
TINY = (
    TRAIN
    + (
        "task.seq_len=16 task.num_tokens=2 task.eval_batches=2 task.eval_batch_size=8 task.arch.dim=16 "
        f"task.arch.expansion=2 task.arch.depth=2 trainer.batch_size=16 run_name={RUN}"
    ).split()
)
D4RL = [*TRAIN, "task=d4rl", "task.eval_episodes=0", "task.download=false"]
SCRIPT = [sys.executable]
TABLES = [*SCRIPT, "scripts/make_tables.py", "--results", "{tmp}/results", "--out", "{tmp}/tables"]
GENERATE = [*SCRIPT, "scripts/generate.py", f"{{tmp}}/runs/{RUN}"]
BAD_INPUTS = [
    BadInput("unknown model", [*TINY, "model=nosuch"], r"Could not find 'model/nosuch'"),
    BadInput("unknown task", [*TINY, "task=nosuch"], r"Could not find 'task/nosuch'"),
    BadInput("unknown experiment", [*TINY, "experiment=table9/nosuch"], r"Could not find 'experiment/table9/nosuch'"),
    BadInput("unknown config key", [*TINY, "trainer.nosuch=1"], r"Could not override 'trainer\.nosuch'\. .*\+trainer"),
    BadInput("an override Hydra cannot parse", [*TINY, "trainer.lr=[1,"], r"'trainer\.lr=\[1,' is not a Hydra"),
    BadInput("a deleted setting", [*TINY, "~trainer.lr"], r"'~trainer\.lr' deletes the setting trainer\.lr"),
    BadInput("an added nested unknown key", [*TINY, "+trainer.a.b.c=1"], r"unknown key trainer\.a\.b\.c=1 \(did you"),
    BadInput("10^18 steps", [*TINY, "trainer.max_steps=1000000000000000000"], r"max_steps=10+: must be an integer in"),
    BadInput(
        "log scan without log space",
        [*TINY, "model.net.block.rnn_kwargs.scan=log", "model.net.block.rnn_kwargs.log_space=false"],
        r"scan='log' needs log_space=True",
    ),
    BadInput("batch not divisible by accumulation", [*TINY, "trainer.grad_accum=3"], r"not divisible"),
    BadInput(
        "unknown scan backend",
        [*TINY, "model.net.block.rnn_kwargs.scan=gpu"],
        r"model\.net\.block\.rnn_kwargs\.scan='gpu': must be one of auto, sequential",
    ),
    BadInput(
        "CUDA on a CPU machine",
        [*TINY, "trainer.device=cuda"],
        r"trainer\.device='cuda': this machine has 0 CUDA device",
    ),
    BadInput(
        "missing data file",
        [*TRAIN, "task=shakespeare", "task.path={tmp}/nowhere.txt"],
        r"nowhere\.txt.*(https://|task\.path)",
    ),
    BadInput(
        "corpus with the wrong checksum",
        [*TRAIN, "task=shakespeare", "task.path={tmp}/shakespeare.txt"],
        r"md5",
        setup="wrong_corpus",
    ),
    BadInput(
        "checkpoint from another config", [*TINY, "task.arch.expansion=3"], r"different model or config", setup="run"
    ),
    BadInput(
        "truncated checkpoint", [*TINY, "trainer.max_steps=8"], r"cannot read checkpoint", setup="truncated_checkpoint"
    ),
    BadInput("empty results folder (tables)", TABLES, r"no run summaries"),
    BadInput("corrupt results file", TABLES, r"broken\.json: not JSON", setup="corrupt_results"),
    BadInput(
        "results file without provenance", TABLES, r"typed\.json: \S+: missing", setup="results_without_provenance"
    ),
    BadInput(
        "non-finite metric in a results file", TABLES, r"nan\.json: metric test_acc is nan", setup="non_finite_results"
    ),
    BadInput("accumulation of 0", [*TINY, "trainer.grad_accum=0"], r"grad_accum=0: must be an integer in \["),
    BadInput("seed given as a string", [*TINY, "seed=abc"], r"seed='abc': must be an integer"),
    BadInput("batch size of 0", [*TINY, "trainer.batch_size=0"], r"batch_size=0: must be an integer in \["),
    BadInput(
        "results path is a file",
        [*TINY, "paths.results={tmp}/a-file"],
        r"a-file is a file\)",
        setup="file_for_a_folder",
    ),
    BadInput(
        "runs path is a file", [*TINY, "paths.runs={tmp}/a-file"], r"a-file is a file\)", setup="file_for_a_folder"
    ),
    BadInput("the same run already running", TINY, r"is in use by pid \d+", setup="run_in_use"),
    BadInput(
        "a bad value in the middle of a sweep", [*TINY[:3], "-m", *TINY[3:], "seed=0,-1,2"], r"run 2 of 3 .*seed=-1"
    ),
    BadInput(
        "a diverging run in a sweep (the other finishes)",
        [*TINY[:3], "-m", *TINY[3:-1], "trainer.lr=1e-3,1e9"],
        r"1 run\(s\) of the sweep failed.*non-finite loss",
    ),
    BadInput("a typo'd choice", [*TINY, "trainer.on_nonfinite=skp"], r"trainer\.on_nonfinite='skp': must be one of"),
    BadInput("a typo'd schedule", [*TINY, "trainer.schedule=cosin"], r"trainer\.schedule='cosin': must be one of"),
    BadInput("an added unknown key", [*TINY, "+trainer.max_stepz=5"], r"unknown key trainer\.max_stepz=5"),
    BadInput("a device that does not exist", [*TINY, "trainer.device=gpu"], r"trainer\.device='gpu': must be one of"),
    BadInput("an unknown scale", [*TINY, "scale=gpu"], r"scale='gpu': must be one of paper, cpu"),
    BadInput(
        "a value that is not a number late in a sweep",
        [*TINY[:3], "-m", *TINY[3:], "task.seq_len=8,abc"],
        r"run 2 of 2 .*task\.seq_len='abc': must be an integer",
    ),
    BadInput(
        "an impossible memory need",
        [*TINY, "task.seq_len=16000000", "trainer.batch_size=65536"],
        r"needs at least .* GiB",
    ),
    BadInput("an impossible sequence length", [*TINY, "task.seq_len=1000000000"], r"seq_len=1000000000: must be"),
    BadInput(
        "a checkpoint that no longer fits the code",
        # the set-up run's own command; its result exists, so forced (else it is recognised, not retrained)
        train_argv(Path("{tmp}"), "trainer.max_steps=4", "trainer.eval_every=2", "trainer.force=true"),
        r"does not fit this code",
        setup="checkpoint_of_another_format",
    ),
    BadInput(
        "a planted summary naming another class (generate.py)",
        GENERATE,
        r"'subprocess\.Popen', which is not one of minrnn's own",
        setup="planted_summary",
    ),
    BadInput(
        "a truncated checkpoint (generate.py)", GENERATE, r"cannot load .*checkpoint\.pt", setup="truncated_checkpoint"
    ),
    BadInput(  # issue 34: minrnn.reader migrates minrnn.checkpoint/1, naming what it assumed
        "an older checkpoint without bad_evals (migrated)",
        # the set-up run resumed (finished: forced)
        train_argv(Path("{tmp}"), "trainer.max_steps=4", "trainer.eval_every=2", "trainer.force=true"),
        r"minrnn\.checkpoint/1 read as minrnn\.checkpoint/2.*bad_evals=0",
        setup="checkpoint_without_bad_evals",
        succeeds=True,
    ),
    *(
        BadInput(  # issue 34: these ended in IndexError/KeyError tracebacks
            f"a D4RL file {what}",
            [*D4RL, "task.path={tmp}/hopper_medium-v2.hdf5"],
            r"hopper_medium-v2\.hdf5: " + why,
            setup=f"d4rl_{setup}",
        )
        for what, setup, why in [
            ("cut short", "truncated", r"not a readable HDF5 file"),
            ("missing a dataset", "missing_dataset", r"missing dataset rewards"),
            (
                "of mismatched lengths",
                "mismatched_lengths",
                r"dataset actions has shape \(49, 3\), which does not match",
            ),
        ]
    ),
    BadInput(
        "empty results folder (efficiency plots)",
        [*SCRIPT, "scripts/make_figure1_3_4.py", "--results", "{tmp}/results"],
        r"no training_cpu\.csv",
    ),
]
