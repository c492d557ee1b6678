"""A benchmark module's command line called in-process, as its script in scripts/ calls it."""

import argparse


def call(module, argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog=module.__name__)
    module.add_arguments(ap)
    return module.run(ap.parse_args(argv), ap.error)
