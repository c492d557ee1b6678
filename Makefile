# minrnn: one-command set-up, tests, benchmarks and reproductions (CPU by default).
#   make reproduce   install, then the CPU-scale core reproduction (tables beside the paper's)
#   make test        install, then the test suite (what CI runs)
# GPU users: make install TORCH_SPEC=torch  (or install their CUDA torch first, then `pip install -e .`)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel; a bare `torch` would resolve to a multi-GB CUDA build on CPU machines.
TORCH_SPEC ?= torch==2.13.0
OUT ?= outputs/reproduce

.PHONY: help install test lint format bench reproduce clean

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

install: $(VENV)/.installed  ## create .venv with the CPU torch wheel and minrnn (editable)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -c "from minrnn import native; native.load()"  # build the CPU scan kernel once
	touch $@

test: install  ## run the test suite
	$(PY) -m pytest -q

lint: install  ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install  ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install  ## layer benchmark (T = 64 .. 4096), written to results/bench/ for committing
	$(PY) scripts/bench_layers.py --out results/bench

reproduce: install  ## the core reproduction at CPU scale: Section 3 parameters, Section 4.1 speed ratios
	$(PY) scripts/param_counts.py --out $(OUT)
	$(PY) scripts/bench_layers.py --lengths 512 4096 --out $(OUT)
	@echo "Tables written to $(OUT)/"

clean:  ## remove the virtual environment and local outputs
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache
