"""Baseline sequence models compared against minGRU/minLSTM."""
