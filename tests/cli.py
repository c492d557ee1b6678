"""A benchmark module's command line called in-process, as its script in scripts/ calls it."""

import argparse


def parser(module) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=module.__name__)
    module.add_arguments(ap)
    return ap


def call(module, argv: list[str]) -> int:
    ap = parser(module)
    return module.run(ap.parse_args(argv), ap.error)


def guarded(module, argv: list[str]) -> int:
    """As the script runs it: through minrnn.cli.run, where an error is one line and exit 2."""
    from minrnn import cli

    return cli.run(module.run, parser(module), argv)
