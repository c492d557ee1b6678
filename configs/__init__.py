"""The Hydra configs of minrnn-train, installed as package data of ``minrnn.configs``."""
