"""The installed commands' entry points (pyproject's [project.scripts]).

``minrnn-train`` needs the harness (Hydra, OmegaConf, W&B: the ``repro`` extra); in a library-only
install (``pip install minrnn``) it says so in one line and exits 2 instead of a traceback.
``minrnn-generate`` needs minrnn alone for an exported model (minrnn.generate).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

# the top-level packages of the repro extra (pyproject.toml): a missing one means the extra is missing
REPRO = {"hydra", "omegaconf", "wandb", "tqdm", "matplotlib", "pandas", "hydra_plugins"}


def train() -> None:
    """``minrnn-train``: minrnn.harness.train.main, or one line naming the extra to install."""
    try:
        overrides(sys.argv[1:])  # before the harness (and torch) is imported: a typo is refused at once
        from minrnn.harness.train import main
    except ImportError as e:
        if (e.name or "").split(".")[0] not in REPRO:
            raise
        print(
            f"minrnn-train: error: training needs the harness, which is not installed (no module {e.name!r}): "
            f'pip install "minrnn[repro]"',
            file=sys.stderr,
        )
        sys.exit(2)
    hydra_run(main)


def hydra_run(main: Callable[[], None]) -> None:
    """Run a ``@hydra.main`` function with Hydra's own errors (a config group option or an override that
    does not exist, an override it cannot parse or apply) as one line and exit 2: Hydra reports them on
    several lines (a hint, a list of options, a link) with exit 1. Errors of the run itself are handled
    inside it (minrnn.harness.train.main)."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    os.environ["HYDRA_FULL_ERROR"] = "1"  # raise, not print-and-exit-1, so the error is caught here
    try:
        main()
    except (HydraException, OmegaConfBaseException) as e:
        lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()] or [type(e).__name__]
        options = getattr(e, "options", None)
        _refuse(lines[0] + (f" (options: {', '.join(options)})" if options else " ".join(["", *lines[1:2]])))


def overrides(argv: list[str]) -> None:
    """The command line's Hydra overrides checked before Hydra reads them: one that its grammar cannot parse
    (``trainer.lr=[1,``) or that deletes a setting (``~trainer.lr``: every setting has a rule and a value;
    minrnn.harness.schema) is one line and exit 2, not Hydra's multi-line report."""
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    from minrnn.harness.schema_rules import DELETABLE

    parser = OverridesParser.create()
    for text in get_args_parser().parse_args(argv).overrides:
        try:
            (override,) = parser.parse_overrides([text])
        except OverrideParseException as e:
            why = (str(e).strip().splitlines() or ["cannot be parsed"])[0]
            _refuse(f"{text!r} is not a Hydra override ({why}; https://hydra.cc/docs/advanced/override_grammar/basic)")
        if override.is_delete() and override.key_or_group not in DELETABLE:
            key = override.key_or_group
            _refuse(f"{text!r} deletes the setting {key}, which every run needs; give it a value ({key}=...)")


def _refuse(message: str) -> None:
    print(f"minrnn-train: error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def generate() -> None:
    """``minrnn-generate``: minrnn.generate.main."""
    from minrnn.generate import main

    sys.exit(main())


def run(command: Callable[[argparse.Namespace, Callable], int], ap: argparse.ArgumentParser, argv=None) -> int:
    """Every script's last line (scripts/*.py): parse the arguments and run ``command``; what a user can
    cause (a folder that is not writable, a file that is not what it should be, a bad setting: OSError
    and ValueError, which UnreadableFile, PathError and SettingError are) is one line and exit 2, and
    Ctrl-C is exit 130, never a traceback. Files are written atomically (minrnn.files): none is left half."""
    args = ap.parse_args(argv)
    for name, value in vars(args).items():  # NaN passes every bound check (nan <= 0 is False): refused here
        if any(isinstance(v, float) and math.isnan(v) for v in (value if isinstance(value, list) else [value])):
            ap.error(f"argument --{name.replace('_', '-')}: nan is not a number this command can use")
    try:
        from minrnn import files

        if getattr(args, "out", None):  # checked before a run of minutes, not when its results are written
            files.check_writable(args.out, folder=not Path(args.out).suffix)
        return command(args, ap.error)
    except (OSError, ValueError) as e:
        text = str(e).strip()
        reason = getattr(e, "strerror", None) or (text.splitlines()[0] if text else type(e).__name__)
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        print(f"{ap.prog}: error: {reason}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{ap.prog}: interrupted; every file written so far is whole (written atomically)", file=sys.stderr)
        return 130
