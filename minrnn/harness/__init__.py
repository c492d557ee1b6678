"""The reproduction harness on top of the library: ``minrnn-train`` (Hydra), the trainer, run records,
the W&B logger and the benchmark grid. The tables, figures and claims made from its results are
minrnn.reports.

Needs the ``repro`` extra (``pip install 'minrnn[repro]'``); ``import minrnn`` never imports it.
"""
