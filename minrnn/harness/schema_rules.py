"""The rule table of the settings schema (minrnn.harness.schema, which reads and checks these rules): every
key of every config group with its rule, a short string in the language schema.py's docstring describes
(``"int >= 1"``, ``"adam | adamw"``, ``"null | str"``, ...). A new model or task adds its keys here
(docs/extending.md); tests/test_schema.py fails for a key of a committed config that no table declares.
"""

DROPOUT = "float in [0, 1)"
# Every run: the top level, the trainer, the logger, the output folders (configs/train.yaml, trainer/, logger/).
COMMON = {
    "scale": "paper | cpu",
    "seed": "int >= 0",
    "threads": "null | int >= 1",
    "tag": "text",
    "run_name": "str",
    "paths.runs": "text",
    "paths.results": "text",
    "logger.mode": "online | offline | disabled",
    "logger.project": "text",
    "trainer.optimizer": "adam | adamw",
    "trainer.lr": "float > 0",
    "trainer.betas": "list of 2 float in [0, 1)",
    "trainer.weight_decay": "float >= 0",
    "trainer.decay_rnn": "bool",
    "trainer.warmup_steps": "int >= 0",
    "trainer.schedule": "constant | cosine | linear",
    "trainer.min_lr_ratio": "float in [0, 1]",
    "trainer.grad_clip": "float >= 0",
    "trainer.batch_size": "int > 0",
    "trainer.grad_accum": "int > 0",
    "trainer.max_steps": "int > 0",
    "trainer.eval_every": "int > 0",
    "trainer.checkpoint_every": "int >= 0",
    "trainer.handle_signals": "bool",
    "trainer.log_every": "int > 0",
    "trainer.keep": "best | last",
    "trainer.patience": "int >= 0",
    "trainer.stop_at": "null | float",
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
    "display.order": "int",
    "display.paper": "bool",
    "display.benchmarks": "dict",
    "net._target_": "str",
    "net.dim": "int >= 1",
    "net.depth": "int >= 1",
}
BLOCK = {  # minrnn.model.SequenceModel's residual block (Appendix C.2)
    "net.block.rnn": "str",
    "net.block.expansion": "int >= 1",
    "net.block.conv": "bool",
    "net.block.mlp": "bool",
    "net.block.mlp_mult": "int >= 1",
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
        "net.block.rnn_kwargs.forget_bias": "float",
    },
    "gru": {**BLOCK, **TORCH_RNN},
    "lstm": {**BLOCK, **TORCH_RNN},
    "mamba": {
        "net.d_state": "int >= 1",
        "net.d_conv": "int >= 1",
        "net.expand": "int >= 1",
        "net.implementation": "auto | mamba_ssm | minrnn",
    },
    "transformer": {
        "net.heads": "int >= 1",
        "net.mlp_mult": "int >= 1",
        "net.dropout": DROPOUT,
        "net.positions": "rope | learned",
        "net.tie_head": "bool",
        "net.max_len": "null | int >= 1",
    },
}
# Every task: what a $MINRNN_CONFIGS task inherits (keys relative to task.); arch is the block's settings.
TASK = {
    "name": "str",
    "_target_": "str",
    "schema": "dict",
    "seed": "int >= 0",
    "version": "int >= 1",  # the task class's VERSION (configs/train.yaml): enters the run identity
    "eval_batches": "null | int >= 1",  # every task takes it: a cap on the evaluation batches (None: all)
    "arch.dim": "int >= 1",
    "arch.depth": "int >= 1",
    "arch.expansion": "int >= 1",
    "arch.conv": "bool",
    "arch.mlp": "bool",
    "arch.mlp_mult": "int >= 1",
    "arch.dropout": DROPOUT,
    "arch.rnn_dropout": DROPOUT,
    "arch.init_hidden_state": "bool",
    "arch.heads": "int >= 1",
}
EVAL = {"eval_batches": "int >= 1", "eval_batch_size": "int >= 1"}
DATA = {"path": "null | str", "cache_dir": "str"}
# Per task option (configs/task/<name>.yaml; keyed by task._target_).
TASKS = {
    "minrnn.tasks.selective_copy.SelectiveCopy": {
        **EVAL,
        "seq_len": "int >= 1",
        "num_tokens": "int >= 1",
        "vocab_size": "int >= 3",
    },
    "minrnn.tasks.chomsky.Chomsky": {
        **EVAL,
        "problem": "parity_check | even_pairs | cycle_nav | bucket_sort | majority | majority_count"
        " | missing_duplicate",
        "train_lengths": "list of 2 int >= 1",
        "eval_lengths": "list of 2 int >= 1",
    },
    "minrnn.tasks.mqar.MQAR": {
        **EVAL,
        "seq_len": "int >= 4",
        "num_kv_pairs": "int >= 1",
        "vocab_size": "int >= 4",
        "power_a": "float in (0, 1]",
    },
    "minrnn.tasks.shakespeare.Shakespeare": {**EVAL, **DATA, "md5": "null | str", "context": "int >= 1"},
    "minrnn.tasks.listops.ListOps": {
        **DATA,
        "cache_dir": "null | str",  # null: generated ListOps is not cached
        "eval_batch_size": "int >= 1",
        "n_train": "int >= 1",
        "n_eval": "int >= 1",
        "min_length": "int >= 1",
        "max_length": "int >= 1",
        "max_depth": "int >= 1",
        "max_args": "int >= 2",
        "data_seed": "int >= 0",
    },
    "minrnn.tasks.gimage.GImage": {
        **DATA,
        "download": "bool",
        "eval_batch_size": "int >= 1",
        "max_eval": "null | int >= 1",
    },
    "minrnn.tasks.retrieval.Retrieval": {
        "path": "null | str",
        "max_length": "int >= 1",
        "embed_dim": "int >= 1",
        "mlp_dim": "int >= 1",
        "eval_batch_size": "int >= 1",
        "max_eval": "null | int >= 1",
    },
    "minrnn.tasks.d4rl.D4RL": {
        **DATA,
        "env": "halfcheetah | hopper | walker2d",
        "dataset": "medium | medium_replay | medium_expert",
        "source": "d4rl | minari",
        "download": "bool",
        "context": "int >= 1",
        "max_ep_len": "int >= 1",
        "return_scale": "float > 0",
        "targets": "dict",
        "target_returns": "list of float",
        "eval_episodes": "int >= 0",
        "gym_version": "str",
        "rollout": "auto | step | window",
        "embed_dim": "int >= 1",
        "eval_windows": "int >= 1",
        "eval_batch_size": "int >= 1",
        "per_dataset": "dict",
    },
}
# Hydra launcher keys we set (configs/hydra/launcher/); Hydra's plugins check the rest of their own.
LAUNCHER = {
    "n_jobs": "int >= 1",
    "timeout_min": "int >= 1",
    "signal_delay_s": "int >= 0",
    "max_num_timeout": "int >= 0",
    "nodes": "int >= 1",
    "tasks_per_node": "int >= 1",
    "gpus_per_node": "int >= 0",
    "cpus_per_task": "int >= 1",
    "mem_gb": "int >= 1",
    "partition": "null | str",
    "account": "null | str",
    "qos": "null | str",
}
# task keys that are not constructor arguments (tables that other keys interpolate from, the block, the schema)
NOT_ARGUMENTS = ("_target_", "name", "version", "arch", "per_dataset", "targets", "schema")
