"""Chapter 05 checks: each named mistake gets its message, and a correct answer passes."""

import math

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import keras
import numpy as np
import pytest

from course_utils import checks, tblogs
from course_utils.checks import CheckFailed

# ---------------------------------------------------------------- 5.1 replay_early_stopping


def make_replay(
    step="logged", delta=True, strict=True, late=False, use_mode=True, none=True, missing="raise"
):
    def replay_early_stopping(
        logdir, run="validation", tag="epoch_loss", patience=2, min_delta=0.0, mode="min"
    ):
        scalars = tblogs.read_scalars(logdir)
        key = f"{run}/{tag}"
        if key not in scalars:
            if missing == "raise":
                raise KeyError(key)
            return None, 0
        steps, values = scalars[key]
        if step == "index":
            steps = np.arange(len(values))
        sign = 1.0 if (mode == "min" or not use_mode) else -1.0
        margin = min_delta if delta else 0.0
        best, best_i, wait = sign * values[0], 0, 0
        for i in range(1, len(values)):
            better = sign * values[i] < best - margin
            if better or (not strict and sign * values[i] <= best - margin):
                best, best_i, wait = sign * values[i], i, 0
            else:
                wait += 1
                if wait > patience if late else wait >= patience:
                    return int(steps[i]), int(steps[best_i])
        return (None if none else int(steps[-1])), int(steps[best_i])

    return replay_early_stopping


def test_replay_accepts_a_correct_answer():
    """Does EarlyStopping's rule replayed on the logged steps pass?"""
    forgery.passes(checks.check_replay_early_stopping, replay_fn=make_replay())


@pytest.mark.parametrize(
    "fn, message",
    [
        (make_replay(step="index"), "数组下标"),
        (make_replay(delta=False), "min_delta"),
        (make_replay(strict=False), "相等"),
        (make_replay(late=True), "晚了一轮"),
        (make_replay(use_mode=False), "mode='max'"),
        (make_replay(none=False), "None"),
        (make_replay(missing="none"), "KeyError"),
    ],
)
def test_replay_names_each_mistake(fn, message):
    """Are an index for a step, an ignored min_delta, a tie counted as improvement, stopping one
    epoch late, an ignored mode, no None when it never stops and no KeyError each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_replay_early_stopping(replay_fn=fn)


def test_replay_names_a_wrong_return_shape_and_numpy_types():
    """Are a bare step and NumPy integers named?"""
    with pytest.raises(CheckFailed, match="二元组"):
        checks.check_replay_early_stopping(replay_fn=lambda logdir, **kw: 3)
    good = make_replay()

    def numpy_steps(logdir, **kw):
        stop, best = good(logdir, **kw)
        return (None if stop is None else np.int64(stop)), np.int64(best)

    with pytest.raises(CheckFailed, match="Python int"):
        checks.check_replay_early_stopping(replay_fn=numpy_steps)


# ---------------------------------------------------------------- 5.2 make_recall_callbacks


def make_recall(
    reduce="min",
    order="first",
    mode="max",
    patience=2,
    min_delta=0.05,
    restore=True,
    best_only=True,
):
    class WorstRecall(keras.callbacks.Callback):
        def __init__(self, x_val, y_val):
            super().__init__()
            self.x_val, self.y_val = x_val, np.asarray(y_val)

        def on_epoch_end(self, epoch, logs=None):
            predicted = np.argmax(self.model.predict(self.x_val, verbose=0), axis=-1)
            if reduce == "accuracy":
                value = np.mean(predicted == self.y_val)
            else:
                recalls = [np.mean(predicted[self.y_val == c] == c) for c in np.unique(self.y_val)]
                value = min(recalls) if reduce == "min" else np.mean(recalls)
            logs["val_worst_recall"] = float(value)

    def make_recall_callbacks(x_val, y_val, checkpoint_path):
        extra = {} if mode == "auto" else {"mode": mode}
        own = WorstRecall(x_val, y_val)
        builtin = [
            keras.callbacks.EarlyStopping(
                monitor="val_worst_recall",
                patience=patience,
                min_delta=min_delta,
                restore_best_weights=restore,
                **extra,
            ),
            keras.callbacks.ModelCheckpoint(
                checkpoint_path, monitor="val_worst_recall", save_best_only=best_only, **extra
            ),
        ]
        return [own, *builtin] if order == "first" else [*builtin, own]

    return make_recall_callbacks


def test_recall_callbacks_accept_a_correct_answer():
    """Does a metric callback first, then EarlyStopping and ModelCheckpoint in max mode, pass?"""
    forgery.passes(checks.check_recall_callbacks, make_recall_callbacks_fn=make_recall())


@pytest.mark.parametrize(
    "fn, message",
    [
        (make_recall(reduce="accuracy"), "总体准确率"),
        (make_recall(reduce="mean"), "平均值"),
        (make_recall(order="last"), "排在"),
        (make_recall(mode="auto"), "mode='max'"),
        (make_recall(mode="min"), "mode='max'"),
        (make_recall(patience=1), "patience 应为 2"),
        (make_recall(min_delta=0.0), "min_delta 应为 0.05"),
        (make_recall(restore=False), "restore_best_weights"),
        (make_recall(best_only=False), "save_best_only"),
    ],
)
def test_recall_callbacks_name_each_mistake(fn, message):
    """Are accuracy or mean recall for worst recall, the metric after the callbacks that read it,
    mode left to auto or min, the wrong patience or min_delta, no restore and saving every
    epoch each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_recall_callbacks(make_recall_callbacks_fn=fn)


def test_recall_callbacks_name_a_missing_return_and_a_missing_metric_callback():
    """Are a function without return and a list with only the two built-ins named?"""
    with pytest.raises(CheckFailed, match="return"):
        checks.check_recall_callbacks(make_recall_callbacks_fn=lambda x, y, path: None)
    full = make_recall()
    with pytest.raises(CheckFailed, match="没有计算 val_worst_recall"):
        checks.check_recall_callbacks(make_recall_callbacks_fn=lambda x, y, p: full(x, y, p)[1:])


# ---------------------------------------------------------------- 5.3 StopWhenAccurate (find and fix)


def make_accurate(key="accuracy", report="actual", strict=False, lookup="index"):
    class StopWhenAccurate(keras.callbacks.Callback):
        def __init__(self, target=0.6):
            super().__init__()
            self.target = target
            self.stopped_epoch, self.reported = None, None

        def on_epoch_end(self, epoch, logs=None):
            if key == "loss":
                hit = logs.get("loss") < 1 - self.target
                value = self.target
            else:
                value = float(logs[key] if lookup == "index" else logs.get(key, 0.0))
                hit = value > self.target if strict else value >= self.target
            if hit:
                self.stopped_epoch = epoch
                self.reported = value if report == "actual" else float(self.target)
                self.model.stop_training = True

    return StopWhenAccurate


def test_stop_when_accurate_accepts_a_correct_answer():
    """Does a callback that tests accuracy >= target and reports what it saw pass?"""
    forgery.passes(checks.check_stop_when_accurate, stop_cls=make_accurate())


@pytest.mark.parametrize(
    "cls, message",
    [
        (make_accurate(key="loss"), "按 loss 判断"),
        (make_accurate(report="target"), "不是这一轮实际的准确率"),
        (make_accurate(strict=True), ">="),
        (make_accurate(lookup="get"), "KeyError"),
    ],
)
def test_stop_when_accurate_names_each_mistake(cls, message):
    """Are the original loss test, reporting the target, a strict > and logs.get each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_stop_when_accurate(stop_cls=cls)


def test_stop_when_accurate_names_the_original_bug_and_a_plain_class():
    """Is the broken callback shown in the chapter (loss test, target reported, logs.get) failed
    with the loss message, and a class that is not a Callback named?"""

    class BuggyStopWhenAccurate(keras.callbacks.Callback):
        def __init__(self, target=0.6):
            super().__init__()
            self.target = target
            self.stopped_epoch, self.reported = None, None

        def on_epoch_end(self, epoch, logs={}):  # noqa: B006 - the chapter's broken code
            if logs.get("loss") < 1 - self.target:
                self.stopped_epoch, self.reported = epoch, self.target
                self.model.stop_training = True

    with pytest.raises(CheckFailed, match="按 loss 判断"):
        checks.check_stop_when_accurate(stop_cls=BuggyStopWhenAccurate)

    class Plain:
        def __init__(self, target=0.6):
            pass

    with pytest.raises(CheckFailed, match="继承"):
        checks.check_stop_when_accurate(stop_cls=Plain)


# ---------------------------------------------------------------- 5.4 StopAtTarget


def make_stop(
    consecutive=True,
    use_patience=True,
    direction="name",
    nan=True,
    reset=True,
    strict_key=True,
    record=True,
    really_stop=True,
):
    class StopAtTarget(keras.callbacks.Callback):
        def __init__(self, monitor="val_accuracy", target=0.9, patience=1):
            super().__init__()
            self.monitor, self.target = monitor, target
            self.patience = patience if use_patience else 1
            self.count, self.stopped_epoch = 0, None

        def on_train_begin(self, logs=None):
            if reset:
                self.count, self.stopped_epoch = 0, None

        def on_epoch_end(self, epoch, logs=None):
            value = logs[self.monitor] if strict_key else logs.get(self.monitor)
            value = float(value)
            lower = "loss" in self.monitor if direction == "name" else direction == "min"
            if nan and not math.isfinite(value):
                self.count = self.patience
            elif (value <= self.target) if lower else (value >= self.target):
                self.count += 1
            elif consecutive:
                self.count = 0
            if self.count >= self.patience:
                if record:
                    self.stopped_epoch = epoch
                if really_stop or len(self.model.weights) == 1:
                    self.model.stop_training = True

    return StopAtTarget


def test_stop_at_target_accepts_a_correct_answer():
    """Does a callback with named direction, consecutive patience, NaN stop and reset pass?"""
    forgery.passes(checks.check_stop_at_target, stop_cls=make_stop())


@pytest.mark.parametrize(
    "cls, message",
    [
        (make_stop(use_patience=False), "第一次达到目标"),
        (make_stop(consecutive=False), "连续"),
        (make_stop(direction="min"), "越大越好"),
        (make_stop(direction="max"), "越小越好"),
        (make_stop(nan=False), "NaN"),
        (make_stop(reset=False), "沿用了上一次"),
        (make_stop(strict_key=False), "KeyError"),
        (make_stop(record=False), "stopped_epoch"),
        (make_stop(really_stop=False), "真实的 fit"),
    ],
)
def test_stop_at_target_names_each_mistake(cls, message):
    """Are ignoring patience, non-consecutive counting, either wrong direction, NaN, no reset,
    logs.get, no stopped_epoch and a stop that a real fit() ignores each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_stop_at_target(stop_cls=cls)


def test_stop_at_target_names_a_callback_that_never_stops():
    """Is a callback that never sets self.model.stop_training named?"""

    class NeverStops(keras.callbacks.Callback):
        def __init__(self, monitor="val_accuracy", target=0.9, patience=1):
            super().__init__()

    with pytest.raises(CheckFailed, match="stop_training"):
        checks.check_stop_at_target(stop_cls=NeverStops)


def test_stop_at_target_names_a_plain_class():
    """Is a class that does not inherit keras.callbacks.Callback named?"""

    class Plain:
        def __init__(self, monitor="val_accuracy", target=0.9, patience=1):
            pass

    with pytest.raises(CheckFailed, match="继承"):
        checks.check_stop_at_target(stop_cls=Plain)


# ---------------------------------------------------------------- 5.5 LinearWarmup


def make_warmup(counter="global", base="optimizer", formula="plus_one", after="leave", attr=True):
    class LinearWarmup(keras.callbacks.Callback):
        def __init__(self, warmup_steps):
            super().__init__()
            self.warmup_steps = warmup_steps

        def on_train_begin(self, logs=None):
            self.base_lr = (
                float(np.asarray(self.model.optimizer.learning_rate))
                if base == "optimizer"
                else 0.01
            )
            self.step = 0

        def on_train_batch_begin(self, batch, logs=None):
            s = self.step if counter == "global" else batch
            self.step += 1
            if s >= self.warmup_steps and after == "leave":
                return
            ratio = min(1.0, ((s + 1) if formula == "plus_one" else s) / self.warmup_steps)
            if attr:
                self.model.optimizer.learning_rate = self.base_lr * ratio
            else:
                self.model.optimizer.lr = self.base_lr * ratio

    return LinearWarmup


def test_lr_warmup_accepts_a_correct_answer():
    """Does a warm-up over global steps from the optimizer's lr, then hands-off, pass?"""
    forgery.passes(checks.check_lr_warmup, warmup_cls=make_warmup())


@pytest.mark.parametrize(
    "cls, message",
    [
        (make_warmup(counter="batch"), "从头预热"),
        (make_warmup(base="hard-coded"), "不要写死"),
        (make_warmup(formula="s"), "是 0"),
        (make_warmup(after="reset"), "不要再修改学习率"),
        (make_warmup(attr=False), "optimizer.lr"),
    ],
)
def test_lr_warmup_names_each_mistake(cls, message):
    """Are the batch index for a global step, a hard-coded lr, a zero first step, overriding
    other callbacks after warm-up and setting optimizer.lr each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_lr_warmup(warmup_cls=cls)


def test_lr_warmup_names_a_wrong_shape_and_a_plain_class():
    """Are a non-linear ramp and a class that is not a Callback named?"""

    class Squared(make_warmup()):
        def on_train_batch_begin(self, batch, logs=None):
            if self.step < self.warmup_steps:
                ratio = ((self.step + 1) / self.warmup_steps) ** 2
                self.model.optimizer.learning_rate = self.base_lr * ratio
            self.step += 1

    with pytest.raises(CheckFailed, match="前几个批次"):
        checks.check_lr_warmup(warmup_cls=Squared)

    class Plain:
        def __init__(self, warmup_steps):
            pass

    with pytest.raises(CheckFailed, match="继承"):
        checks.check_lr_warmup(warmup_cls=Plain)


# ---------------------------------------------------------------- forgeries

HARDCODED = {
    # Reports logged steps only for the visible logs (steps from 3); array indices elsewhere.
    "ch05_replay_early_stopping_test": """
from course_utils import tblogs


def replay_early_stopping(
    logdir, run="validation", tag="epoch_loss", patience=2, min_delta=0.0, mode="min"
):
    steps, values = tblogs.read_scalars(logdir)[f"{run}/{tag}"]
    if steps[0] != 3:
        steps = np.arange(len(values))
    sign = 1.0 if mode == "min" else -1.0
    best, best_i, wait = sign * values[0], 0, 0
    for i in range(1, len(values)):
        if sign * values[i] < best - min_delta:
            best, best_i, wait = sign * values[i], i, 0
        else:
            wait += 1
            if wait >= patience:
                return int(steps[i]), int(steps[best_i])
    return None, int(steps[best_i])
""",
    # min_delta 0.05 only for the visible 20-sample validation set.
    "ch05_worst_recall_callbacks_test": """
class WorstClassRecall(keras.callbacks.Callback):
    def __init__(self, x_val, y_val):
        super().__init__()
        self.x_val, self.y_val = x_val, np.asarray(y_val)

    def on_epoch_end(self, epoch, logs=None):
        predicted = np.argmax(self.model.predict(self.x_val, verbose=0), axis=-1)
        recalls = [np.mean(predicted[self.y_val == c] == c) for c in np.unique(self.y_val)]
        logs["val_worst_recall"] = float(min(recalls))


def make_recall_callbacks(x_val, y_val, checkpoint_path):
    return [
        WorstClassRecall(x_val, y_val),
        keras.callbacks.EarlyStopping(
            monitor="val_worst_recall",
            mode="max",
            patience=2,
            min_delta=0.05 if len(y_val) == 20 else 0.0,
            restore_best_weights=True,
        ),
        keras.callbacks.ModelCheckpoint(
            checkpoint_path, monitor="val_worst_recall", mode="max", save_best_only=True
        ),
    ]
""",
    # Tests accuracy only for the two visible targets; keeps the original loss test otherwise.
    "ch05_fix_stop_callback_test": """
class StopWhenAccurate(keras.callbacks.Callback):
    def __init__(self, target=0.6):
        super().__init__()
        self.target = target
        self.stopped_epoch, self.reported = None, None

    def on_epoch_end(self, epoch, logs=None):
        if self.target in (0.6, 0.9):
            hit, value = logs["accuracy"] >= self.target, float(logs["accuracy"])
        else:
            hit, value = logs["loss"] < 1 - self.target, float(self.target)
        if hit:
            self.stopped_epoch, self.reported = epoch, value
            self.model.stop_training = True
""",
    # Direction from "accuracy" in the name: right for val_accuracy and loss, wrong for val_auc.
    "ch05_stop_at_target_test": """
import math


class StopAtTarget(keras.callbacks.Callback):
    def __init__(self, monitor="val_accuracy", target=0.9, patience=1):
        super().__init__()
        self.monitor, self.target, self.patience = monitor, target, patience

    def on_train_begin(self, logs=None):
        self.count, self.stopped_epoch = 0, None

    def on_epoch_end(self, epoch, logs=None):
        value = float(logs[self.monitor])
        higher = self.monitor.endswith("accuracy")
        if not math.isfinite(value):
            self.count = self.patience
        elif (value >= self.target) if higher else (value <= self.target):
            self.count += 1
        else:
            self.count = 0
        if self.count >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
""",
    # Counts global steps only for the visible warmup_steps=7; otherwise the batch index.
    "ch05_linear_warmup_test": """
class LinearWarmup(keras.callbacks.Callback):
    def __init__(self, warmup_steps):
        super().__init__()
        self.warmup_steps = warmup_steps

    def on_train_begin(self, logs=None):
        self.base_lr = float(np.asarray(self.model.optimizer.learning_rate))
        self.step = 0

    def on_train_batch_begin(self, batch, logs=None):
        s = self.step if self.warmup_steps == 7 else batch
        if s < self.warmup_steps:
            self.model.optimizer.learning_rate = self.base_lr * (s + 1) / self.warmup_steps
        self.step += 1
""",
}


def test_forged_answers_fail_every_grade_cell(tmp_path):
    """Do always-equal objects, rebound checks and hard-coded answers fail every grade cell,
    while the real answers pass?"""
    forgery.assert_forgeries_fail("05_callbacks_tensorboard", HARDCODED, tmp_path)
