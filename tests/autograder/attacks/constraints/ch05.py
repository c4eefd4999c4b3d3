"""Chapter 05: answers that give the right numbers but break a constraint the task states.

``ANSWERS[answer grade_id]``: ``(what it violates, full answer-cell source)``; graded through
``python -m autograder grade``, each must score 0 on its exercise (the constraint, judged on
the source, is the only thing wrong) while the other exercises keep full marks.

- 5.1 (``replay_early_stopping``): "count by the rule yourself, do not borrow
  ``keras.callbacks.EarlyStopping``": a replay that feeds the logged values to a real
  ``EarlyStopping`` gives the right steps.
- 5.2 (``make_recall_callbacks``): "stopping and restoring belong to ``EarlyStopping``, saving to
  ``ModelCheckpoint``; your callback only computes the metric": one answer stops and restores
  by hand in its own callback (no ``EarlyStopping``), one saves the model by hand (no
  ``ModelCheckpoint``); both give the right epochs, restored weights and checkpoint.

5.3 to 5.5 state behaviour only (what the fixed callback does on grader-chosen logs, when
``StopAtTarget`` stops, the learning rate of every batch of a real ``fit()``).

``DELEGATIONS[answer grade_id]``: an answer that hands the work to what used to compute it in
``course_utils`` (``checks.ch05.expected_warmup``, the warm-up schedule of exercise 5.5); it no
longer exists, so the answer must score 0.
"""

REPLAY_WITH_EARLY_STOPPING = '''from course_utils import tblogs


def replay_early_stopping(
    logdir, run="validation", tag="epoch_loss", patience=2, min_delta=0.0, mode="min"
):
    """按 EarlyStopping 的规则重放日志，返回 (停止的 step 或 None, 最好的 step)。"""
    scalars = tblogs.read_scalars(logdir)
    steps, values = scalars[f"{run}/{tag}"]
    stopper = keras.callbacks.EarlyStopping(
        monitor=tag, patience=patience, min_delta=min_delta, mode=mode
    )
    model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
    stopper.set_model(model)
    model.stop_training = False
    stopper.on_train_begin()
    for i, value in enumerate(values):
        stopper.on_epoch_end(i, {tag: float(value)})
        if model.stop_training:
            return int(steps[i]), int(steps[stopper.best_epoch])
    return None, int(steps[stopper.best_epoch])
'''

_RECALL = '''class WorstClassRecall(keras.callbacks.Callback):
    """每轮结束时把验证集上最差类别的召回率写进 logs["val_worst_recall"]。"""

    def __init__(self, x_val, y_val):
        super().__init__()
        self.x_val, self.y_val = x_val, np.asarray(y_val).reshape(-1)

    def on_epoch_end(self, epoch, logs=None):
        predicted = np.argmax(self.model.predict(self.x_val, verbose=0), axis=-1)
        recalls = [np.mean(predicted[self.y_val == c] == c) for c in np.unique(self.y_val)]
        logs["val_worst_recall"] = float(min(recalls))
'''

# Early stopping and restoring done by hand inside the metric callback.
RECALL_STOPS_ITSELF = (
    _RECALL.replace(
        """        logs["val_worst_recall"] = float(min(recalls))
""",
        """        value = float(min(recalls))
        logs["val_worst_recall"] = value
        if epoch == 0 or value - 0.05 > self.best:
            self.best, self.wait, self.weights = value, 0, self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= 2:
                self.model.stop_training = True
                self.model.set_weights(self.weights)
""",
    )
    + '''

def make_recall_callbacks(x_val, y_val, checkpoint_path):
    """返回回调列表：写 val_worst_recall 的回调、EarlyStopping、ModelCheckpoint。"""
    return [
        WorstClassRecall(x_val, y_val),
        keras.callbacks.ModelCheckpoint(
            checkpoint_path, monitor="val_worst_recall", mode="max", save_best_only=True
        ),
    ]
'''
)

# The best model saved by hand inside the metric callback.
RECALL_SAVES_ITSELF = (
    _RECALL.replace(
        """        logs["val_worst_recall"] = float(min(recalls))
""",
        """        value = float(min(recalls))
        logs["val_worst_recall"] = value
        if epoch == 0 or value > self.top:
            self.top = value
            self.model.save(self.path)
""",
    ).replace(
        "        self.x_val, self.y_val = x_val, np.asarray(y_val).reshape(-1)\n",
        "        self.x_val, self.y_val = x_val, np.asarray(y_val).reshape(-1)\n"
        "        self.path = None\n",
    )
    + '''

def make_recall_callbacks(x_val, y_val, checkpoint_path):
    """返回回调列表：写 val_worst_recall 的回调、EarlyStopping、ModelCheckpoint。"""
    metric = WorstClassRecall(x_val, y_val)
    metric.path = checkpoint_path
    return [
        metric,
        keras.callbacks.EarlyStopping(
            monitor="val_worst_recall",
            mode="max",
            patience=2,
            min_delta=0.05,
            restore_best_weights=True,
        ),
    ]
'''
)

ANSWERS: dict[str, list[tuple[str, str]]] = {
    "ch05_replay_early_stopping": [
        ("replays the log through keras.callbacks.EarlyStopping", REPLAY_WITH_EARLY_STOPPING)
    ],
    "ch05_worst_recall_callbacks": [
        ("stops and restores the best weights itself, no EarlyStopping", RECALL_STOPS_ITSELF),
        ("saves the best model itself, no ModelCheckpoint", RECALL_SAVES_ITSELF),
    ],
}

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
