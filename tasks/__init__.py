"""Tasks: data generators or loaders plus the loss and metrics the paper reports.

A task object exposes ``vocab_size`` and ``dim_out`` (token inputs) or ``dim_in``, ``max_len``,
``train_batch(batch_size, step) -> (x, y)`` (deterministic in (seed, step), so a resumed run sees
the same batches), ``eval_batches(split)`` (an iterable of (x, y): the same fixed set every call),
``loss(logits, y)`` and ``metrics(logits, y) -> dict`` of sums over the batch (averaged by the
trainer), with ``metric`` naming the one that picks the best checkpoint (``higher_is_better``,
default True). Optional: ``wrap(model)`` puts task-specific input/output layers around the built
model (D4RL's decision model), and ``final_evaluation(model, device) -> dict`` runs after training
on the kept weights (D4RL's rollouts); its result is stored under ``metrics.final``. Configs in
configs/task/ point at the class with ``_target_``.
"""
