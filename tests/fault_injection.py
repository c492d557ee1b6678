"""Fault injection: kill training runs at random steps, feed the tools bad input, check nothing is lost.

Five kinds of trial, each on a tiny selective-copying run (CPU, deterministic, one thread):
- SIGKILL at a random step, then rerun the same command: the final metrics and metrics.jsonl must
  equal those of an uninterrupted run bit for bit (the run resumes from its last checkpoint).
- SIGTERM (how Slurm preempts) at a random step: the run must save a checkpoint at that step and
  exit with 143, and the rerun must again equal the uninterrupted run.
- A local sweep of two runs stopped by Ctrl-C (SIGINT to its process group) or by SIGTERM to its
  parent: exit 128 + signal, no traceback, no process left; the rerun must equal uninterrupted runs.
- Network loss: W&B online with no server to reach must fall back to offline and train the same.
- Bad input (unknown names, impossible settings, missing or corrupt data, foreign or truncated
  checkpoints, empty or corrupt results): one clear message, non-zero exit, no traceback, and every
  file that existed before is unchanged.

    python tests/fault_injection.py --kills 10 --terms 5 --sweeps 2      # writes results/reliability/faults.{json,md}

tests/test_fault_injection.py runs one trial of each kind.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from minrnn.harness.records import provenance, write_json_atomic, write_text_atomic

ROOT = Path(__file__).resolve().parent.parent

RUN = "selective_copy/cpu/mingru-L2-s0"
STEPS = 300


def train_argv(tmp: Path, *extra: str) -> list[str]:
    """A tiny deterministic run, checkpointed every step, slow enough (~2 s) to be hit mid-way."""
    steps = f"threads=1 trainer.deterministic=true trainer.max_steps={STEPS} trainer.eval_every=50 trainer.log_every=1"
    return [*(w.replace("{tmp}", str(tmp)) for w in TINY), *steps.split(), "trainer.checkpoint_every=1", *extra]


def outcome(tmp: Path, run: str = RUN) -> dict:
    """What must not depend on interruptions: the summary's metrics and the logged losses."""
    summary = json.loads((tmp / "results" / f"{run}.json").read_text())
    timing = ("train_seconds_this_session", "train_seconds_all_stretches", "stretches")  # how long, not what
    metrics = {k: v for k, v in summary["metrics"].items() if k not in timing}
    lines = [json.loads(x) for x in (tmp / "runs" / run / "metrics.jsonl").read_text().splitlines()]
    log = [{k: v for k, v in x.items() if k != "tokens_per_s"} for x in lines]
    return {"metrics": metrics, "log": log}


def last_logged_step(tmp: Path, run: str = RUN) -> int:
    try:
        lines = (tmp / "runs" / run / "metrics.jsonl").read_text().splitlines()
        return max((json.loads(x)["step"] for x in lines if x.strip().endswith("}")), default=0)
    except (OSError, json.JSONDecodeError):
        return 0


def interrupt(tmp: Path, sig: signal.Signals, at_step: int, timeout: float = 120) -> tuple[int, int, str]:
    """Start the run, send ``sig`` once it has logged ``at_step``; returns (exit code, step seen, stderr)."""
    proc = subprocess.Popen(train_argv(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, seen = time.monotonic() + timeout, 0
    while proc.poll() is None and time.monotonic() < deadline:
        seen = last_logged_step(tmp)
        if seen >= at_step:
            proc.send_signal(sig)
            break
        time.sleep(0.005)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, seen, err


def checkpoint_step(tmp: Path) -> int:
    import torch

    return torch.load(tmp / "runs" / RUN / "checkpoint.pt", map_location="cpu", weights_only=True)["step"]


def straight_run(tmp: Path, *extra: str) -> dict:
    subprocess.run(train_argv(tmp, *extra), check=True, capture_output=True, text=True)
    return outcome(tmp)


def sweep_trial(tmp: Path, references: list[dict], sig: signal.Signals, to_group: bool, at_step: int) -> dict:
    """A local sweep of one run per seed of ``references``, stopped by ``sig`` (to the process group
    as Ctrl-C does, or to the parent alone) once every run has logged ``at_step``, then rerun: exit
    128 + sig with no traceback and no process left, and each run equal to its uninterrupted one."""
    seeds = ",".join(map(str, range(len(references))))
    tiny = [a for a in train_argv(tmp, f"seed={seeds}", "hydra/launcher=local") if not a.startswith("run_name=")]
    argv = [*tiny[:3], "--multirun", *tiny[3:]]  # after "python -m minrnn.harness.train"
    runs: list[str] = []
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    folder, deadline = tmp / "runs" / "selective_copy" / "cpu", time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        runs = sorted(str(p.relative_to(tmp / "runs")) for p in folder.glob("mingru-*")) if folder.exists() else []
        if len(runs) == len(references) and all(last_logged_step(tmp, r) >= at_step for r in runs):
            (os.killpg if to_group else os.kill)(proc.pid, sig)
            break
        time.sleep(0.005)
    _, err = proc.communicate(timeout=120)
    trial = {"signal": f"{sig.name} to the {'group' if to_group else 'parent'}", "target_step": at_step}
    trial.update(exit_code=proc.returncode, interrupted_at=min((last_logged_step(tmp, r) for r in runs), default=0))
    left = [
        ln
        for ln in subprocess.run(["ps", "-eo", "sid=,stat="], capture_output=True, text=True).stdout.splitlines()
        if int(ln.split()[0]) == proc.pid and not ln.split()[1].startswith("Z")
    ]
    if proc.returncode != 128 + sig or "Traceback" in err or left:
        trial.update(ok=False, why=f"exit {proc.returncode}, {len(left)} processes left, stderr: {err.strip()[-300:]}")
        return trial
    resumed = subprocess.run(argv, capture_output=True, text=True)
    trial["resumed_from"] = [int(m) for m in re.findall(r"from step (\d+)", resumed.stdout)]
    if resumed.returncode != 0:
        trial.update(ok=False, why=f"resume exit {resumed.returncode}: {resumed.stderr.strip()[-300:]}")
        return trial
    trial["ok"] = [outcome(tmp, r) for r in runs] == references
    if not trial["ok"]:
        trial["why"] = "metrics differ from the uninterrupted runs"
    return trial


def kill_trial(tmp: Path, reference: dict, sig: signal.Signals, at_step: int) -> dict:
    """Interrupt a run with ``sig`` at ``at_step``, rerun it, and compare with ``reference``."""
    code, seen, err = interrupt(tmp, sig, at_step)
    trial = {"signal": sig.name, "target_step": at_step, "interrupted_at": seen, "exit_code": code}
    if code == 0:
        trial.update(ok=False, why="the run finished before the signal arrived")
        return trial
    if sig == signal.SIGTERM:
        saved = checkpoint_step(tmp)
        trial["checkpoint_step"] = saved
        if code != 128 + signal.SIGTERM or "stopped by SIGTERM" not in err or saved < seen:
            trial.update(ok=False, why=f"exit {code}, checkpoint at {saved}, stderr: {err.strip()[-300:]}")
            return trial
    resumed = subprocess.run(train_argv(tmp), capture_output=True, text=True)
    trial["resumed_from"] = int(m.group(1)) if (m := re.search(r"from step (\d+)", resumed.stdout)) else 0
    if resumed.returncode != 0:
        trial.update(ok=False, why=f"resume exit {resumed.returncode}: {resumed.stderr.strip()[-300:]}")
        return trial
    got = outcome(tmp)
    trial["ok"] = got == reference
    if not trial["ok"]:
        trial["why"] = "metrics differ from the uninterrupted run"
    return trial


def network_trial(tmp: Path, reference: dict) -> dict:
    """W&B online with no network (a closed local port as the server, an API key set): the run must
    fall back to offline within seconds, say so, and finish equal to the reference run."""
    env = os.environ | {"WANDB_BASE_URL": "http://127.0.0.1:9", "WANDB_API_KEY": "x" * 40, "WANDB_DIR": str(tmp)}
    env.pop("WANDB_MODE", None)
    argv = [a for a in train_argv(tmp) if a != "logger.mode=disabled"] + ["logger.mode=online"]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    trial = {"signal": "network loss (W&B online)", "exit_code": proc.returncode}
    trial["seconds"] = round(time.monotonic() - started, 1)
    said = "offline" in proc.stderr and "Traceback" not in proc.stderr
    trial["ok"] = proc.returncode == 0 and said and outcome(tmp) == reference
    if not trial["ok"]:
        trial["why"] = f"exit {proc.returncode}, stderr: {proc.stderr.strip()[-300:]}"
    return trial


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


def _run_in_use(tmp: Path) -> None:
    """A live process holding the run's directory (it lets go by itself after 60 s)."""
    hold = (
        "import sys, time; from minrnn.harness.run_lock import RunLock; lock = RunLock(sys.argv[1]).__enter__(); "
        "print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold, str(tmp / "runs" / RUN)], stdout=subprocess.PIPE, text=True)
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
    BadInput("unknown config key", [*TINY, "trainer.nosuch=1"], r"Key 'nosuch' is not in struct"),
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
    BadInput("corrupt results file", TABLES, r"broken\.json: not a run summary", setup="corrupt_results"),
    BadInput("results file without provenance", TABLES, r"typed\.json: lacks", setup="results_without_provenance"),
    BadInput(
        "non-finite metric in a results file", TABLES, r"nan\.json: metric test_acc is nan", setup="non_finite_results"
    ),
    BadInput("accumulation of 0", [*TINY, "trainer.grad_accum=0"], r"trainer\.grad_accum=0: must be an integer > 0"),
    BadInput("seed given as a string", [*TINY, "seed=abc"], r"seed='abc': must be an integer"),
    BadInput("batch size of 0", [*TINY, "trainer.batch_size=0"], r"trainer\.batch_size=0: must be an integer > 0"),
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
    BadInput("an impossible sequence length", [*TINY, "task.seq_len=1000000000"], r"needs at least .* GiB"),
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


def digest(folder: Path) -> dict[str, str]:
    """Every file under folder with the sha256 of its bytes (not run locks: they name their last holder)."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def bad_input_trial(tmp: Path, case: BadInput) -> dict:
    tmp.mkdir(parents=True, exist_ok=True)
    if case.setup:
        SETUPS[case.setup](tmp)
    before = digest(tmp)
    argv = [a.replace("{tmp}", str(tmp)) for a in case.argv]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=300)
    after = digest(tmp)
    damaged = sorted(k for k in before if after.get(k) != before[k]) if not case.succeeds else []
    message = proc.stderr.strip()
    checks = {
        ("exit 0" if case.succeeds else "non-zero exit"): (proc.returncode == 0) == case.succeeds,
        "no traceback": "Traceback" not in proc.stderr,
        "message names the problem": re.search(case.expect, message, re.S) is not None,
        "nothing saved was changed": not damaged,
    }
    return {
        "case": case.name,
        "exit_code": proc.returncode,
        "ok": all(checks.values()),
        "failed_checks": [k for k, v in checks.items() if not v],
        "message": message[-400:],
        "damaged": damaged,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=10, help="SIGKILL trials at random steps")
    ap.add_argument("--terms", type=int, default=5, help="SIGTERM trials at random steps")
    ap.add_argument("--sweeps", type=int, default=2, help="local two-run sweeps stopped (Ctrl-C, SIGTERM in turn)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/minrnn-faults"), help="scratch folder")
    ap.add_argument("--out", type=Path, default=ROOT / "results/reliability")
    args = ap.parse_args(argv)
    if min(args.kills, args.terms, args.sweeps) < 0:
        ap.error("--kills, --terms and --sweeps must be >= 0")
    rng = random.Random(args.seed)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    work = args.work / stamp
    reference = straight_run(work / "straight")
    trials = []
    for i, sig in enumerate([signal.SIGKILL] * args.kills + [signal.SIGTERM] * args.terms):
        t = kill_trial(work / f"trial{i}", reference, sig, rng.randrange(5, STEPS - 20))
        print(t, flush=True)
        trials.append(t)
    references = [reference, straight_run(work / "straight-s1", "seed=1")]
    for i in range(args.sweeps):
        sig, to_group = (signal.SIGINT, True) if i % 2 == 0 else (signal.SIGTERM, False)
        t = sweep_trial(work / f"sweep{i}", references, sig, to_group, rng.randrange(5, STEPS - 20))
        print(t, flush=True)
        trials.append(t)
    network = network_trial(work / "network", reference)
    print(network, flush=True)
    bad = []
    for i, case in enumerate(BAD_INPUTS):
        b = bad_input_trial(work / f"bad{i}", case)
        print({k: b[k] for k in ("case", "ok", "exit_code", "failed_checks")}, flush=True)
        bad.append(b)
    n_ok = sum(t["ok"] for t in trials)
    lines = [
        "# Fault injection",
        "",
        f"Generated by `python tests/fault_injection.py --kills {args.kills} "
        f"--terms {args.terms} --sweeps {args.sweeps} --seed {args.seed}` on {provenance()['device_name']}.",
        "",
        f"Training runs interrupted: {len(trials)} ({args.kills} SIGKILL, {args.terms} SIGTERM at random steps "
        f"of {STEPS}; {args.sweeps} local sweeps of two runs, stopped by Ctrl-C to the process group or SIGTERM "
        "to the parent, each with no traceback and no process left); resumed identically (final metrics and "
        f"every logged loss equal an uninterrupted run): {n_ok}/{len(trials)}.",
        "",
        "| signal | at step | resumed from | exit code | identical |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {t['signal']} | {t['interrupted_at']} | {t.get('resumed_from', '-')} | {t['exit_code']} | "
        f"{'yes' if t['ok'] else 'NO: ' + t.get('why', '')} |"
        for t in trials
    ]
    fell_back = "fell back to offline, said so, and trained to the same result"
    fell_back = fell_back if network["ok"] else "FAILED: " + network["why"]
    lines += [
        "",
        f"Network loss: W&B `logger.mode=online` with no reachable server: {fell_back} "
        f"({network['seconds']} s in all).",
        "",
        f"Bad inputs tried: {len(bad)}; handled (non-zero exit, one message, no traceback, nothing "
        f"saved changed): {sum(b['ok'] for b in bad)}/{len(bad)}.",
        "",
        "| input | exit code | handled | message (last line) |",
        "|---|---|---|---|",
    ]
    for b in bad:
        last = (b["message"].strip().splitlines() or [""])[0][:110].replace("|", "/")
        ok = "yes" if b["ok"] else "NO: " + ", ".join(b["failed_checks"])
        lines.append(f"| {b['case']} | {b['exit_code']} | {ok} | {last} |")
    config = vars(args) | {"work": str(args.work), "out": str(args.out)}
    record = {"config": config, "provenance": provenance(), "trials": trials, "network": network, "bad_inputs": bad}
    write_json_atomic(args.out / "faults.json", record)
    write_text_atomic(args.out / "faults.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if n_ok == len(trials) and network["ok"] and all(b["ok"] for b in bad) else 1


if __name__ == "__main__":
    sys.exit(main())
