"""The reproduction harness on top of the library: ``minrnn-train`` (Hydra), the trainer, run records,
the W&B logger, reporting for the paper's tables and figures, and the benchmark grid.

Needs the ``repro`` extra (``pip install 'minrnn[repro]'``); ``import minrnn`` never imports it.
"""
