# minrnn: one-command set-up, tests, benchmarks and reproductions (CPU by default).
#   make reproduce   install, then the CPU-scale core reproduction (tables beside the paper's)
#   make test        install, then the test suite (what CI runs)
#   make reproduce-table1 / reproduce-table2   the selective-copying sweeps (SCALE=cpu|paper, SEEDS=0,1,2)
# GPU users: make install TORCH_SPEC=torch  (or install their CUDA torch first, then `pip install -e .`)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch from PyTorch's CPU wheel index when it answers, else the default index (scripts/install_torch.sh
# says which build it got); a bare `torch` would resolve to a multi-GB CUDA build on CPU machines.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
OUT ?= outputs/reproduce
SCALE ?= cpu
SEEDS ?= 0,1,2
FIG2_SEEDS ?= 0
# Seconds for the layer benchmark in make reproduce: rounds stop, and T = 4096 is skipped when it cannot fit
BENCH_BUDGET ?= 60
# How sweeps run: two runs at a time with one thread each here; a cluster: LAUNCH=hydra/launcher=slurm
LAUNCH ?= hydra/launcher=local threads=1
TRAIN := $(VENV)/bin/minrnn-train

.PHONY: help install install-dev test lint format bench reproduce reproduce-table1 reproduce-table2 reproduce-figure2 \
	reproduce-figure1 reproduce-inference figures-efficiency faults fuzz-files reproduce-table4 tables clean \
	reproduce-table3 reproduce-table3-demo reproduce-table4-lra test-gpu-compile test-mamba-ssm reproduce-recall \
	reproduce-table6 reproduce-figure5 claims claims-runs referee-runs test-slurm test-paper-scale test-gpu-shapes gpu-check bench-compile bench-decoding \
	profile-step docs layer-precision replay fuzz speed-card gpu-speed-card

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

install: $(VENV)/.installed  ## create .venv with torch (the CPU build where its index answers) and minrnn[repro] (editable)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	scripts/install_torch.sh $(PY) "$(TORCH_SPEC)" "$(TORCH_INDEX)"
	$(PY) -m pip install --quiet -e ".[repro]"
	$(PY) -c "from minrnn.ops import native; native.load()"  # build the CPU scan kernel once
	touch $@

install-dev: $(VENV)/.installed-dev  ## add the test, lint, RL and launcher dependencies (minrnn[dev])

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

test: install-dev  ## run the test suite (two processes: pytest-xdist)
	$(PY) -m pytest -q -n 2

fuzz: install-dev  ## the property-based tests (Hypothesis) with many more examples than make test
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -n 2 -p no:cacheprovider tests/test_schema.py tests/test_fuzz_layers.py

# The GPU targets run in the Python you activated (your CUDA build of torch): nothing is installed.
GPU_PYTHON ?= python3
gpu-check:  ## on a CUDA machine, in your environment: backends vs float64, 2^31+ elements, Table 2 steps, Figure 1 -> results/gpu/
	@$(GPU_PYTHON) scripts/gpu_check.py

# mamba-ssm's Python code without its CUDA build, in a folder of its own (the .venv stays without it)
MAMBA_SSM_DIR ?= build/mamba-ssm
test-mamba-ssm: install-dev  ## our Mamba block and model against mamba-ssm's own (reference path), float64, 1e-12 (CI)
	MAMBA_FORCE_BUILD=TRUE MAMBA_SKIP_CUDA_BUILD=TRUE $(PY) -m pip install --quiet --upgrade --no-build-isolation \
		--no-deps --target $(MAMBA_SSM_DIR) "mamba-ssm==2.3.2.post1" "einops>=0.8"
	PYTHONPATH=$(MAMBA_SSM_DIR) $(PY) -m pytest -q -p no:cacheprovider tests_mamba_ssm

test-gpu-compile: install-dev  ## every Triton kernel variant compiled for sm_60..sm_90 with ptxas -v (no GPU; CI)
	env -u TRITON_INTERPRET $(PY) -m pytest -q -n 2 -p no:cacheprovider tests_gpu_compile

test-gpu-shapes: install-dev  ## the GPU check's dry run at the GPU shape on CPU (float64 references; minutes; CI)
	$(PY) -m pytest -q -p no:cacheprovider -m gpu_shape tests/test_gpu_check.py

test-paper-scale: install-dev  ## every experiment= preset, one step at scale=paper on CPU (the paper's model sizes; minutes)
	$(PY) -m pytest -q -p no:cacheprovider tests_paper_scale

# A one-node Slurm cluster (scripts/slurm_local.sh; root, installs slurm-wlm + munge when missing), the
# Slurm launcher tested through it, and the cluster stopped on every exit path.
test-slurm: install-dev  ## Slurm sweeps, requeues and failures through a real local cluster (a few minutes)
	@trap 'scripts/slurm_local.sh stop' EXIT INT TERM; scripts/slurm_local.sh start && \
		eval "$$(scripts/slurm_local.sh env)" && timeout 900 $(PY) -m pytest -q -p no:cacheprovider tests_slurm

lint: install-dev  ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev  ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install  ## layer benchmark (T = 64 .. 4096), written to results/bench/ for committing; docs regenerated
	$(PY) scripts/bench_layers.py --out results/bench
	$(PY) scripts/make_docs.py

docs: install  ## regenerate the numbers in docs/ that come from results/ (minrnn/reports/docs.py), and docs/deviations.md
	$(PY) scripts/make_docs.py
	$(PY) scripts/make_deviations.py

layer-precision: install  ## the precision policy measured: half inputs, every backend, T = 4096 and 65,536 (results/core/layer_precision.*)
	$(PY) scripts/layer_precision.py --out results/core

$(VENV)/.installed-peers: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[peers]"
	touch $@

speed-card: install $(VENV)/.installed-peers  ## the CPU speed card: every implementation x T x B (peers: minrnn[peers]), the Table 2 network, decoding (budgeted) -> results/bench/speed_card.*
	$(PY) scripts/speed_card.py --scale cpu

gpu-speed-card:  ## the GPU speed card in your CUDA Python (results/gpu/speed_card.*); without a GPU a dry run on CPU (CI)
	@$(GPU_PYTHON) scripts/speed_card.py --scale gpu

profile-step: install  ## where a training step's time goes, per part of the network, T = 512, 4096 (results/efficiency/profile_cpu.*)
	$(PY) scripts/profile_step.py

bench-decoding: install  ## generation tokens/s: minGRU/minLSTM fast and eager step, nn.GRU/LSTM, Transformer KV cache (results/bench/decoding.*)
	$(PY) scripts/bench_decoding.py --out results/bench

bench-compile: install  ## trainer.compile: steps per second eager vs compiled, one preset per task (results/efficiency/compile_cpu.*)
	$(PY) scripts/bench_compile.py

reproduce: install  ## CPU-scale core reproduction (Section 3, 4.1) + Tables 1-4, 6 and Figure 2 from results/
	$(PY) scripts/bench_layers.py --lengths 512 4096 --repeats 5 --budget $(BENCH_BUDGET) --out $(OUT)
	@echo "Measured tables written to $(OUT)/. The parameter counts, then Tables 1-4, 6, Figure 2 and the claims regenerated from the committed runs in results/:"
	$(PY) scripts/make_reports.py --scale $(SCALE) --out $(OUT)  # param_counts, make_tables, make_figure2, make_table4, make_table6, make_table3 --demo, make_claims in one process

reproduce-table1: install  ## Table 1: minGRU/minLSTM x 1-3 layers x seeds on selective copying, then the table
	$(TRAIN) -m experiment=table1/mingru,table1/minlstm task.arch.depth=1,2,3 seed=$(SEEDS) scale=$(SCALE) $(LAUNCH)
	$(PY) scripts/make_tables.py --scale $(SCALE)

reproduce-table2: install  ## Table 2: every model, 3 layers, x seeds on selective copying, then the table
	$(TRAIN) -m experiment=table2/mingru,table2/minlstm,table2/gru,table2/lstm,table2/mamba,table2/transformer \
		seed=$(SEEDS) scale=$(SCALE) $(LAUNCH)
	$(PY) scripts/make_tables.py --scale $(SCALE)

reproduce-figure2: install  ## Figure 2: character-level Shakespeare, every model (set MINRNN_SHAKESPEARE offline)
	$(TRAIN) -m experiment=figure2/mingru,figure2/minlstm,figure2/mamba,figure2/transformer,figure2/gru,figure2/lstm \
		seed=$(FIG2_SEEDS) scale=$(SCALE) $(LAUNCH)
	$(PY) scripts/make_figure2.py --scale $(SCALE)

reproduce-figure1: install  ## Figure 1: training step time and memory vs length, every model (resumable)
	$(PY) scripts/bench_training.py --scale $(SCALE)
	$(PY) scripts/make_figure1_3_4.py --scale $(SCALE)

reproduce-inference: install  ## Figures 3-4: inference time and memory vs context and batch (resumable)
	$(PY) scripts/bench_inference.py --scale $(SCALE)
	$(PY) scripts/make_figure1_3_4.py --scale $(SCALE)

figures-efficiency: install  ## redraw Figures 1, 3-4 and the report from results/efficiency/*.csv alone
	$(PY) scripts/make_figure1_3_4.py --scale $(SCALE)

# Table 3 needs D4RL's nine HDF5 files: downloaded into ~/.cache/minrnn/data when online, or MINRNN_D4RL=<folder>.
T3_SEEDS ?= 0,1,2,3,4
T3_MODELS ?= table3/minlstm,table3/mingru
reproduce-table3: install-dev  ## Table 3: decision minLSTM/minGRU x 9 D4RL datasets x 5 seeds (needs the data), then the table
	$(TRAIN) -m experiment=$(T3_MODELS) task.env=halfcheetah,hopper,walker2d \
		task.dataset=medium,medium_replay,medium_expert seed=$(T3_SEEDS) scale=$(SCALE) $(LAUNCH)
	$(PY) scripts/make_table3.py --scale $(SCALE)

DEMO_DATA ?= data/d4rl-demo
DEMO_MODELS ?= table3/minlstm,table3/mingru,table3/gru,table3/transformer
reproduce-table3-demo: install-dev  ## Table 3's pipeline on locally generated HalfCheetah data (NOT D4RL: not comparable)
	$(PY) scripts/make_d4rl_demo_data.py --env halfcheetah --episodes 30 --out $(DEMO_DATA)
	$(TRAIN) -m experiment=$(DEMO_MODELS) task.env=halfcheetah task.path=$(DEMO_DATA)/halfcheetah_demo.hdf5 \
		task.name=d4rl-demo/halfcheetah "task.target_returns=[-300,-700]" seed=0 scale=cpu $(LAUNCH)
	$(PY) scripts/make_table3.py --demo --scale cpu

reproduce-table4: install  ## Table 4: Chomsky (4 models x 7 problems) and LRA ListOps (minLSTM, minGRU) x seeds, then the table
	$(TRAIN) -m experiment=table4/mingru,table4/minlstm,table4/gru,table4/lstm \
		task.problem=bucket_sort,missing_duplicate,cycle_nav,even_pairs,majority,majority_count,parity_check \
		seed=$(SEEDS) scale=$(SCALE) $(LAUNCH)
	$(TRAIN) -m experiment=table4/lra_minlstm,table4/lra_mingru seed=$(SEEDS) scale=$(SCALE) $(LAUNCH)
	$(PY) scripts/make_table4.py --scale $(SCALE)

reproduce-recall: install  ## the recall grid (MQAR x model x width x lr; docs/recall.md), one run at a time, resumable; then its figure
	$(PY) scripts/run_recall_grid.py --scale $(SCALE)
	$(PY) scripts/make_recall.py --scale $(SCALE)

# Retrieval and G-Image need LRA's AAN files (MINRNN_AAN=<folder>) and CIFAR-10 (MINRNN_CIFAR10 or a download).
reproduce-table4-lra: install  ## Table 4's Retrieval and G-Image columns (minLSTM, minGRU; needs their data)
	$(TRAIN) -m experiment=table4/lra_minlstm,table4/lra_mingru task=retrieval,gimage seed=$(SEEDS) \
		scale=$(SCALE) $(LAUNCH)
	$(PY) scripts/make_table4.py --scale $(SCALE)

T6_SEEDS ?= $(SEEDS)
reproduce-table6: install  ## Table 6: the ListOps ablation of minLSTM (alone, +Conv, +MLP, +Conv+MLP), then the table
	$(TRAIN) -m experiment=table6/minlstm_plain,table6/minlstm_conv,table6/minlstm_mlp,table6/minlstm_conv_mlp \
		seed=$(T6_SEEDS) scale=$(SCALE) $(LAUNCH)
	$(PY) scripts/make_table6.py --scale $(SCALE)

FORGET_BIASES ?= 0.0,5.0
COMMA := ,
reproduce-figure5: install  ## Figure 5: minLSTM forget-gate biases on ListOps (bias 3 = the Table 4 runs), then the plot
	$(TRAIN) -m experiment=figure5/minlstm model.net.block.rnn_kwargs.forget_bias=$(FORGET_BIASES) seed=0 \
		scale=$(SCALE) $(LAUNCH)
	$(TRAIN) -m experiment=table4/lra_minlstm seed=$(SEEDS) scale=$(SCALE) $(LAUNCH)
	$(PY) scripts/make_figure5.py --scale $(SCALE) --biases $(subst $(COMMA), ,$(FORGET_BIASES))

fuzz-files: install-dev  ## fuzz every file format minrnn reads with more examples than make test (tests/test_reader_fuzz.py)
	MINRNN_FUZZ_EXAMPLES=$${MINRNN_FUZZ_EXAMPLES:-3000} $(PY) -m pytest -q -p no:randomly -k fuzz tests/test_reader_fuzz.py

faults: install  ## fault injection: kill/resume runs at random steps, bad inputs -> results/reliability/
	$(PY) tests/fault_injection.py --kills 10 --terms 5 --sweeps 2

tables: install  ## regenerate Tables 1, 2, 4, 6, Figure 5 and the Table 3 demo from results/ alone
	$(PY) scripts/make_tables.py --scale $(SCALE)
	$(PY) scripts/make_table4.py --scale $(SCALE)
	$(PY) scripts/make_table6.py --scale $(SCALE)
	$(PY) scripts/make_figure5.py --scale $(SCALE) --biases $(subst $(COMMA), ,$(FORGET_BIASES))
	$(PY) scripts/make_table3.py --demo --scale $(SCALE)

claims: install  ## the paper's claims, each with a verdict computed from results/ -> results/claims_<scale>.{md,json}
	$(PY) scripts/make_claims.py --docs docs/results.md
	$(PY) scripts/make_docs.py

# The longer runs that decide budget-limited claims: minrnn/reports/claims/runs.yaml, one minrnn-train sweep
# a line. Each run resumes from its checkpoint when rerun, so this target can be stopped and restarted.
claims-runs: install  ## the longer runs behind budget-limited claims (resumable; hours), then make claims
	@$(PY) scripts/make_claims.py --longer-runs | while read -r sweep; do \
		$(TRAIN) -m $$sweep threads=1 trainer.checkpoint_every=250 < /dev/null || exit $$?; \
	done
	$(PY) scripts/make_claims.py --docs docs/results.md
	$(PY) scripts/make_docs.py

referee-runs: install  ## the pre-registered seed matrices (results/preregistration/; one thread, resumable; hours)
	$(PY) scripts/run_preregistered.py

RUN ?= results/mqar/L64-P4/cpu/mingru-w32-lr0.003-L2-s0-3b1958de.json
replay: install  ## rerun a committed run (RUN=results/...json) from its config and seed; bit-exact or the differences
	$(PY) scripts/replay.py $(RUN)

clean:  ## remove the virtual environment and local outputs
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache
