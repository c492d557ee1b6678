"""The installed commands' entry points (pyproject's [project.scripts]).

``minrnn-train`` needs the harness (Hydra, OmegaConf, W&B: the ``repro`` extra); in a library-only
install (``pip install minrnn``) it says so in one line and exits 2 instead of a traceback.
``minrnn-generate`` needs minrnn alone for an exported model (minrnn.generate).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

# the top-level packages of the repro extra (pyproject.toml): a missing one means the extra is missing
REPRO = {"hydra", "omegaconf", "wandb", "tqdm", "matplotlib", "pandas", "hydra_plugins"}


def train() -> None:
    """``minrnn-train``: minrnn.harness.train.main, or one line naming the extra to install."""
    try:
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
    main()


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
    try:
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
