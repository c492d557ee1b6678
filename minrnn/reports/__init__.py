"""Reports on the runs: the verdict rules and the pre-registered seed matrices (issue #35)."""
