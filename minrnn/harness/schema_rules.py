"""The rule table of the settings schema (minrnn.harness.schema, which reads and checks these rules): every
key of every config group with its rule, a short string in the language schema.py's docstring describes
(``"int >= 1"``, ``"adam | adamw"``, ``"null | str"``, ...). A new model or task adds its keys here
(docs/extending.md); tests/test_schema.py fails for a key of a committed config that no table declares.
"""

DROPOUT = "float in [0, 1)"
# Upper bounds far past the paper's largest settings (500k steps, dim 512, T = 4096, batch 256), so no
# researcher hits them, while 10^18 steps or a dim of 10^9 is refused before anything is built.
SEED = "int in [0, 4294967295]"  # numpy's seeds: 32 bits
STEPS = "int in [1, 1e9]"
STEPS_OR_0 = "int in [0, 1e9]"
BATCH = "int in [1, 1048576]"
WIDTH = "int in [1, 65536]"  # a model width, an embedding
LAYERS = "int in [1, 1024]"
FACTOR = "int in [1, 64]"  # an expansion or MLP factor
LENGTH = "int in [1, 16777216]"  # a sequence length or context: 2^24 tokens
COUNT = "int in [1, 1e9]"  # examples, evaluation batches, windows
# Every run: the top level, the trainer, the logger, the output folders (configs/train.yaml, trainer/, logger/).
COMMON = {
    "scale": "paper | cpu",
    "seed": SEED,
    "threads": "null | int in [1, 4096]",
    "tag": "name",
    "run_name": "run name",
    "paths.runs": "text",
    "paths.results": "text",
    "logger.mode": "online | offline | disabled",
    "logger.project": "text",
    "trainer.optimizer": "adam | adamw",
    "trainer.lr": "float in (0, 1e10]",  # 1e9 diverges on purpose (tests/fault_cases.py)
    "trainer.betas": "list of 2 float in [0, 1)",
    "trainer.weight_decay": "float in [0, 100]",
    "trainer.decay_rnn": "bool",
    "trainer.warmup_steps": STEPS_OR_0,
    "trainer.schedule": "constant | cosine | linear",
    "trainer.min_lr_ratio": "float in [0, 1]",
    "trainer.grad_clip": "float in [0, 1e9]",
    "trainer.batch_size": BATCH,
    "trainer.grad_accum": "int in [1, 65536]",
    "trainer.max_steps": STEPS,
    "trainer.eval_every": STEPS,
    "trainer.checkpoint_every": STEPS_OR_0,
    "trainer.handle_signals": "bool",
    "trainer.log_every": STEPS,
    "trainer.keep": "best | last",
    "trainer.patience": STEPS_OR_0,
    "trainer.stop_at": "null | float in [-1e9, 1e9]",
    "trainer.on_nonfinite": "stop | skip",
    "trainer.device": "auto | cpu | cuda | cuda:N | mps",
    "trainer.precision": "auto | fp32 | fp16 | bf16",
    "trainer.force": "bool",
    "trainer.compile": "bool",
    "trainer.deterministic": "bool",
    "trainer.progress": "bool",
}
# Every model: what a $MINRNN_CONFIGS model inherits (keys relative to model.).
MODEL = {
    "name": "str",
    "schema": "dict",  # a user's model declares its own keys here
    "display.name": "str",
    "display.color": "str",
    "display.order": "int in [-1e9, 1e9]",
    "display.paper": "bool",
    "display.benchmarks": "dict",
    "net._target_": "str",
    "net.dim": WIDTH,
    "net.depth": LAYERS,
}
BLOCK = {  # minrnn.model.SequenceModel's residual block (Appendix C.2)
    "net.block.rnn": "str",
    "net.block.expansion": FACTOR,
    "net.block.conv": "bool",
    "net.block.mlp": "bool",
    "net.block.mlp_mult": FACTOR,
    "net.block.dropout": DROPOUT,
    "net.block.rnn_dropout": DROPOUT,
}
MINRNN = {
    "net.block.rnn_kwargs.log_space": "bool",
    "net.block.rnn_kwargs.scan": "auto | BACKENDS",  # minrnn.backends.BACKENDS, read when checked
    "net.block.rnn_kwargs.init_hidden_state": "bool",
}
TORCH_RNN = {"net.block.rnn_kwargs.impl": "fused | loop"}
# Per model option (configs/model/<name>.yaml; keyed by model.name, which is the file's name).
MODELS = {
    "mingru": {**BLOCK, **MINRNN},
    "minlstm": {
        **BLOCK,
        **MINRNN,
        "net.block.rnn_kwargs.normalize_gates": "bool",
        "net.block.rnn_kwargs.forget_bias": "float in [-100, 100]",
    },
    "gru": {**BLOCK, **TORCH_RNN},
    "lstm": {**BLOCK, **TORCH_RNN},
    "mamba": {
        "net.d_state": "int in [1, 4096]",
        "net.d_conv": "int in [1, 1024]",
        "net.expand": FACTOR,
        "net.implementation": "auto | mamba_ssm | minrnn",
    },
    "transformer": {
        "net.heads": "int in [1, 4096]",
        "net.mlp_mult": FACTOR,
        "net.dropout": DROPOUT,
        "net.positions": "rope | learned",
        "net.tie_head": "bool",
        "net.max_len": f"null | {LENGTH}",
    },
}
# Every task: what a $MINRNN_CONFIGS task inherits (keys relative to task.); arch is the block's settings.
TASK = {
    "name": "str",
    "_target_": "str",
    "schema": "dict",
    "seed": SEED,
    "version": "int in [1, 1e9]",  # the task class's VERSION (configs/train.yaml): enters the run identity
    "eval_batches": f"null | {COUNT}",  # every task takes it: a cap on the evaluation batches (None: all)
    "arch.dim": WIDTH,
    "arch.depth": LAYERS,
    "arch.expansion": FACTOR,
    "arch.conv": "bool",
    "arch.mlp": "bool",
    "arch.mlp_mult": FACTOR,
    "arch.dropout": DROPOUT,
    "arch.rnn_dropout": DROPOUT,
    "arch.init_hidden_state": "bool",
    "arch.heads": "int in [1, 4096]",
}
EVAL = {"eval_batches": COUNT, "eval_batch_size": BATCH}
DATA = {"path": "null | str", "cache_dir": "str"}
# Per task option (configs/task/<name>.yaml; keyed by task._target_).
TASKS = {
    "minrnn.tasks.selective_copy.SelectiveCopy": {
        **EVAL,
        "seq_len": LENGTH,
        "num_tokens": LENGTH,
        "vocab_size": "int in [3, 16777216]",
    },
    "minrnn.tasks.chomsky.Chomsky": {
        **EVAL,
        "problem": "parity_check | even_pairs | cycle_nav | bucket_sort | majority | majority_count"
        " | missing_duplicate",
        "train_lengths": f"list of 2 {LENGTH}",
        "eval_lengths": f"list of 2 {LENGTH}",
    },
    "minrnn.tasks.mqar.MQAR": {
        **EVAL,
        "seq_len": "int in [4, 16777216]",
        "num_kv_pairs": LENGTH,
        "vocab_size": "int in [4, 16777216]",
        "power_a": "float in (0, 1]",
    },
    "minrnn.tasks.shakespeare.Shakespeare": {**EVAL, **DATA, "md5": "null | str", "context": LENGTH},
    "minrnn.tasks.listops.ListOps": {
        **DATA,
        "cache_dir": "null | str",  # null: generated ListOps is not cached
        "eval_batch_size": BATCH,
        "n_train": COUNT,
        "n_eval": COUNT,
        "min_length": LENGTH,
        "max_length": LENGTH,
        "max_depth": "int in [1, 1000]",
        "max_args": "int in [2, 1000]",
        "data_seed": SEED,
    },
    "minrnn.tasks.gimage.GImage": {**DATA, "download": "bool", "eval_batch_size": BATCH, "max_eval": f"null | {COUNT}"},
    "minrnn.tasks.retrieval.Retrieval": {
        "path": "null | str",
        "max_length": LENGTH,
        "embed_dim": WIDTH,
        "mlp_dim": WIDTH,
        "eval_batch_size": BATCH,
        "max_eval": f"null | {COUNT}",
    },
    "minrnn.tasks.d4rl.D4RL": {
        **DATA,
        "env": "halfcheetah | hopper | walker2d",
        "dataset": "medium | medium_replay | medium_expert",
        "source": "d4rl | minari",
        "download": "bool",
        "context": LENGTH,
        "max_ep_len": LENGTH,
        "return_scale": "float in (0, 1e9]",
        "targets": "dict",
        "target_returns": "list of float in [-1e9, 1e9]",
        "eval_episodes": "int in [0, 1000000]",
        "gym_version": "str",
        "rollout": "auto | step | window",
        "embed_dim": WIDTH,
        "eval_windows": COUNT,
        "eval_batch_size": BATCH,
        "per_dataset": "dict",
    },
}
# Hydra launcher keys we set (configs/hydra/launcher/); Hydra's plugins check the rest of their own.
# The settings a command line may delete (``~key``): a run needs every other one (minrnn.cli.overrides).
# The block's rnn_kwargs are its own layer's: a layer named by dotted path takes none of them.
DELETABLE = ("model.net.block.rnn_kwargs",)

LAUNCHER = {
    "n_jobs": "int in [1, 4096]",
    "timeout_min": "int in [1, 1000000]",
    "signal_delay_s": "int in [0, 86400]",
    "max_num_timeout": "int in [0, 10000]",
    "nodes": "int in [1, 10000]",
    "tasks_per_node": "int in [1, 1024]",
    "gpus_per_node": "int in [0, 64]",
    "cpus_per_task": "int in [1, 4096]",
    "mem_gb": "int in [1, 1048576]",
    "partition": "null | str",
    "account": "null | str",
    "qos": "null | str",
}
# task keys that are not constructor arguments (tables that other keys interpolate from, the block, the schema)
NOT_ARGUMENTS = ("_target_", "name", "version", "arch", "per_dataset", "targets", "schema")
