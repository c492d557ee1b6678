"""The installed commands' entry points (pyproject's [project.scripts]).

``minrnn-train`` needs the harness (Hydra, OmegaConf, W&B: the ``repro`` extra); in a library-only
install (``pip install minrnn``) it says so in one line and exits 2 instead of a traceback.
``minrnn-generate`` needs minrnn alone for an exported model (minrnn.generate).
"""

from __future__ import annotations

import sys

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
