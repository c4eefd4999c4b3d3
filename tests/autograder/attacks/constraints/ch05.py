"""Chapter 05: answers that give the right numbers but break a constraint the task states.

Chapter 05's tasks state behaviour, not source constraints: which callbacks with which settings
(5.1, probed on grader-scripted epochs: epochs run, the epoch restored, the epoch saved, the
final learning rate, and the callbacks' classes), what ``best_epoch`` returns on grader-written
event files (5.2), when ``StopAtTarget`` stops (5.3) and the learning rate of every batch of a
real ``fit()`` (5.4). So its hidden blocks hold no ``constrain(...)`` and ``ANSWERS`` is empty.

``DELEGATIONS[answer grade_id]``: an answer that hands the work to what used to compute it in
``course_utils`` (``checks.ch05.expected_warmup``, the warm-up schedule of exercise 5.4); it no
longer exists, so the answer must score 0.
"""

ANSWERS: dict[str, list[tuple[str, str]]] = {}

DELEGATIONS = {
    "ch05_linear_warmup": '''from course_utils.checks.ch05 import expected_warmup


class LinearWarmup(keras.callbacks.Callback):
    """前 warmup_steps 个训练步把学习率从 base_lr / warmup_steps 线性升到 base_lr。"""

    def __init__(self, warmup_steps):
        super().__init__()
        self.warmup_steps = int(warmup_steps)

    def on_train_begin(self, logs=None):
        self.base_lr = float(np.asarray(self.model.optimizer.learning_rate))
        self.step = 0

    def on_train_batch_begin(self, batch, logs=None):
        if self.step < self.warmup_steps:
            schedule = expected_warmup(self.base_lr, self.warmup_steps, self.step + 1)
            self.model.optimizer.learning_rate = schedule[-1]
        self.step += 1
''',
}
