"""``minrnn-generate``: sample text from a trained character model, in recurrent (step) mode: constant
memory per token (``python scripts/generate.py`` is the same command).

    minrnn-generate runs/shakespeare/cpu/mingru-L3-s0-2eb3b8d2 --prompt "ROMEO:" --tokens 500 \
        --temperature 0.8 --top-k 10
    minrnn-generate runs/shakespeare/cpu/mingru-L3-s0-2eb3b8d2 --export models/mingru-shakespeare
    minrnn-generate models/mingru-shakespeare --prompt "ROMEO:"     # needs minrnn alone

From a run directory: rebuilds the model from its summary.json (minrnn's own classes only) and the best
weights of its checkpoint (weights_only), with the training data for the vocabulary. From an exported
model (``--export``: SequenceModel.save_pretrained, the vocabulary in its config): neither Hydra nor the
data. Prefills the prompt in parallel mode and continues one token at a time: through minrnn.decode's
fast step where it applies (``--eager-step``: SequenceModel.step).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

from minrnn import SequenceModel
from minrnn.formats import CHECKPOINT, RESULT
from minrnn.pretrained import load_state
from minrnn.reader import UnreadableFile, read_json, read_torch
from minrnn.tasks.shakespeare import Characters, DataError

REPRO = 'the harness: pip install "minrnn[repro]"'


def load_exported(path: Path):
    model = SequenceModel.from_pretrained(path)
    chars = model.extra.get("vocabulary")
    if not isinstance(chars, str) or not chars:
        raise ValueError(f"{path} holds no character vocabulary: not an exported character model")
    return Characters(chars), model


def load_run(run_dir: Path):
    if (run_dir / "config.json").is_file() and (run_dir / "model.safetensors").is_file():
        return load_exported(run_dir)
    try:
        from omegaconf import OmegaConf

        from minrnn.harness.train import build, check_own_classes
    except ImportError as e:
        raise ValueError(f"{run_dir} is a training run: reading it needs {REPRO} (missing: {e.name})") from None

    summary_path, ckpt_path = run_dir / "summary.json", run_dir / "checkpoint.pt"
    for p in (summary_path, ckpt_path):
        if not p.is_file():
            raise FileNotFoundError(f"{p} not found: give the directory of a finished minrnn-train run")
    try:
        config = read_json(summary_path, RESULT)["config"]
        check_own_classes(config)  # a summary is data: it may only name minrnn's own classes
        cfg = OmegaConf.create(config)
    except UnreadableFile:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{summary_path} is not a run summary minrnn can rebuild ({e})") from None
    task, model = build(cfg)
    try:
        ckpt = read_torch(ckpt_path, CHECKPOINT)
    except UnreadableFile as e:
        raise ValueError(f"cannot load {e}") from None
    try:  # names and shapes compared first: a checkpoint of another model names its first misfit
        load_state(model, ckpt["best_model"] or ckpt["model"], ckpt_path)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"cannot load {ckpt_path} ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    return task, model.eval()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--prompt", default="\n")
    ap.add_argument("--tokens", type=int, default=500)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-k", type=int, default=None)
    ap.add_argument(
        "--top-p", type=float, default=None, help="nucleus sampling: keep the tokens of this much probability"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--eager-step", action="store_true", help="step with the eager SequenceModel.step, not minrnn.decode's"
    )
    ap.add_argument("--export", type=Path, default=None, help="write the run as a model that needs minrnn alone")
    args = ap.parse_args(argv)
    try:
        if not args.prompt:
            raise ValueError("--prompt is empty: give at least one character to start from")
        if (
            args.tokens < 1
            or not math.isfinite(args.temperature)
            or args.temperature < 0
            or (args.top_k is not None and args.top_k < 1)
            or (args.top_p is not None and not 0 < args.top_p <= 1)
        ):
            raise ValueError("need --tokens >= 1, a finite --temperature >= 0, --top-k >= 1 and --top-p in (0, 1]")
        task, model = load_run(args.run_dir)
        if not hasattr(task, "decode"):
            raise ValueError(f"{args.run_dir} is not a character-level run")
        if args.export:
            if not isinstance(model, SequenceModel):
                raise ValueError(f"{args.run_dir}: only SequenceModel runs can be exported")
            model.save_pretrained(args.export, extra={"vocabulary": "".join(task.chars), "from_run": str(args.run_dir)})
            print(f"exported {args.run_dir} to {args.export}")
            return 0
        prompt = task.encode(args.prompt).unsqueeze(0)
        g = torch.Generator().manual_seed(args.seed)
        fast = {} if not isinstance(model, SequenceModel) else {"fast_step": not args.eager_step}
        out = model.generate(prompt, args.tokens, args.temperature, args.top_k, generator=g, top_p=args.top_p, **fast)
    except (ValueError, FileNotFoundError, DataError) as e:
        print(f"generate: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(task.decode(out[0].tolist()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
